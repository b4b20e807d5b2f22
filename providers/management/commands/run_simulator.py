from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from providers.simulator import DEMO_KEY, Simulator

# Command flags that map one-to-one to SimConfig switches: (flag, type, help).
SWITCHES = (
    ("latency_ms", int, "extra latency per request, in milliseconds"),
    ("html_502_share", float, "share of requests answered with an HTML 502 page (0..1)"),
    ("hang_share", float, "share of requests that hang for --hang-seconds (0..1)"),
    ("hang_seconds", float, "how long a hang lasts"),
    ("rate_limit_share", float, "share of requests answered with HTTP 429 (0..1)"),
    ("retry_after", str, "Retry-After header sent with a 429"),
    ("partial_share", float, "share of orders ending Partial"),
    ("canceled_share", float, "share of orders ending Canceled"),
    ("services_count", int, "number of services in the catalogue"),
    ("subscription_posts_per_hour", float, "new posts per simulated hour for subscriptions"),
)
FLAGS = (
    ("hang_close", "close the connection after a hang instead of answering"),
    ("hang_after_accept", "`add`: create the order, then hang (an unknown outcome for the caller)"),
    ("numbers_as_numbers", "answer numbers as JSON numbers instead of strings"),
    ("spelling_variants", 'status words spelled like some panels do ("In Progress", "Cancelled")'),
    ("non_numeric_ids", 'ids like "ord_ab12"'),
    ("refill_status_type_key", "refill_status items say `type` where `status` is expected"),
    ("cancel_ids", "cancel answers carry a cancel id and a `type`"),
    ("cancel_order_only", "`cancel` accepts only `order=`"),
    ("errors_as_list", 'errors as {"errors": [...]}'),
    ("item_errors_as_strings", "per-id errors in multi answers as bare strings"),
    ("success_key", 'add "status": "success" to answers'),
    ("empty_catalogue_as_object", "an empty catalogue answered as {}"),
    ("missing_fields", "leave out `currency` and `dripfeed`"),
)


class Command(BaseCommand):
    help = f"Start the upstream simulator (an API v2 panel) on 127.0.0.1. The key {DEMO_KEY!r} always exists."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--key", action="append", default=[], help="an extra API key (repeatable)")
        parser.add_argument("--balance", action="append", default=[],
                            help="balance of the matching --key (default 1000)")
        parser.add_argument("--remains-style", choices=("string", "unknown", "negative", "missing"),
                            default="string")
        for name, type_, text in SWITCHES:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type_, default=None, help=text)
        for name, text in FLAGS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, action="store_true", help=text)

    def handle(self, *args, port, host, speed, seed, key, balance, remains_style, **options):
        switches = {name: options[name] for name, _, _ in SWITCHES if options.get(name) is not None}
        switches.update({name: True for name, _ in FLAGS if options.get(name)})
        switches["remains_style"] = remains_style
        sim = Simulator(speed=speed, seed=seed, host=host, port=port, **switches)
        if len(balance) > len(key):
            raise CommandError("--balance given without a matching --key")
        for index, api_key in enumerate(key):
            try:
                amount = Decimal(balance[index]) if index < len(balance) else Decimal("1000")
            except InvalidOperation:
                raise CommandError(f"Not an amount: {balance[index]!r}") from None
            sim.add_key(api_key, amount)
        self.stdout.write(f"Upstream simulator at http://{host}:{port}/api/v2 "
                          f"({len(sim.catalogue)} services; keys: {DEMO_KEY}, {len(key)} more). Ctrl-C stops it.")
        try:
            sim.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
