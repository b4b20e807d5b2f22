from django.core.management.base import BaseCommand, CommandError

from accounts.models import Customer
from accounts.services import MoneyError, balance_deposit


class Command(BaseCommand):
    help = "Credit a customer's balance through the ledger."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount")
        parser.add_argument("--note", default="Funds added by operator")

    def handle(self, *args, username, amount, note, **options):
        customer = Customer.objects.filter(user__username=username).first()
        if customer is None:
            raise CommandError(f"No customer named {username!r}")
        try:
            entry = balance_deposit(customer_id=customer.pk, amount=amount, note=note)
        except MoneyError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Credited {entry.amount} to {username}; balance now {entry.balance_after}")
