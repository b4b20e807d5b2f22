from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.services import MoneyError, customer_create


class Command(BaseCommand):
    help = "Create a customer; prints its API key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--balance", default="0", help="Opening balance, credited through the ledger")
        parser.add_argument("--password", default=None, help="Password for the web panel (none: API only)")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, balance, password, email, **options):
        try:
            customer, raw_key = customer_create(
                username=username, password=password, email=email, balance=Decimal(balance)
            )
        except IntegrityError:
            raise CommandError(f"A user named {username!r} already exists") from None
        except (MoneyError, ArithmeticError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Customer {customer.username} created (id {customer.pk}), balance {customer.balance}")
        self.stdout.write(f"API key: {raw_key}")
