from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from accounts.deposits import gateway_save
from accounts.models import Gateway
from accounts.services import MoneyError


class Command(BaseCommand):
    help = "Register a payment gateway (or update the one of that name). Prints its webhook path."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Short name; the webhook is /payments/<name>/webhook/")
        parser.add_argument("kind", choices=Gateway.Kind.values)
        parser.add_argument("--api-base", default="", help="Another API base URL: a sandbox or a local simulator")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--min", dest="min_amount", default=None)
        parser.add_argument("--max", dest="max_amount", default=None)
        parser.add_argument("--fee-percent", default=None)
        parser.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE",
                            help="Repeat for each: stripe secret_key, webhook_secret; paypal client_id, "
                                 "client_secret, webhook_id; cryptomus merchant, payment_key")
        parser.add_argument("--disabled", action="store_true", help="Register it switched off")

    def handle(self, *args, name, kind, api_base, currency, min_amount, max_amount, fee_percent, credential,
               disabled, **options):
        credentials = {}
        for item in credential:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError("each --credential takes KEY=VALUE")
            credentials[key.strip()] = value
        try:
            gateway, created = gateway_save(
                name=name, kind=kind, credentials=credentials, api_base=api_base, currency=currency,
                min_amount=min_amount, max_amount=max_amount, fee_percent=fee_percent, enabled=not disabled)
        except MoneyError as exc:
            raise CommandError(str(exc)) from None
        verb = "Registered" if created else "Updated"
        # Secrets are never printed: only their names.
        self.stdout.write(f"{verb} {gateway.kind} gateway {gateway.name!r} ({gateway.currency}, credentials: "
                          f"{', '.join(sorted(gateway.credentials))}); webhook path: "
                          f"{reverse('payment_webhook', args=[gateway.name])}")
