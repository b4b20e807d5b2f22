"""Serve the payment gateway simulator (Stripe, PayPal, Cryptomus stand-ins) until stopped."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.gateways.simulator import GatewaySimulator

# The demo gateways' credentials: what `make run` registers, and what the simulator accepts.
DEMO_CREDENTIALS = {
    "stripe": {"secret_key": "sk_test_demo", "webhook_secret": "whsec_demo"},
    "paypal": {"client_id": "demo-client", "client_secret": "demo-secret", "webhook_id": "WH-DEMO"},
    "cryptomus": {"merchant": "00000000-0000-4000-8000-000000000001", "payment_key": "demo-payment-key"},
}
# Each demo gateway's name in the panel, by kind: its webhook is /payments/<name>/webhook/.
DEMO_NAMES = {"stripe": "demo-card", "paypal": "demo-paypal", "cryptomus": "demo-crypto"}


class Command(BaseCommand):
    help = "Start the payment gateway simulator; webhooks go to the panel at --panel-url."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8002)
        parser.add_argument("--panel-url", default="http://127.0.0.1:8000",
                            help="Where the demo gateways' webhooks are sent")

    def handle(self, *args, host, port, panel_url, **options):
        sim = GatewaySimulator(host=host, port=port)
        for kind, credentials in DEMO_CREDENTIALS.items():
            sim.kinds[kind].configure(credentials)
            sim.webhook_urls[kind] = f"{panel_url.rstrip('/')}/payments/{DEMO_NAMES[kind]}/webhook/"
        self.stdout.write(f"Gateway simulator on http://{host}:{port} (webhooks to {panel_url})")
        sim.serve_forever()  # until run_local (or Ctrl-C) stops the process
