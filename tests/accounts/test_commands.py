from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Customer, LedgerEntry

pytestmark = pytest.mark.django_db


def test_create_customer_prints_key_once_and_credits_opening_balance(capsys):
    call_command("create_customer", "bob", "--balance", "15.5", "--password", "s3cret-pass-123")

    out = capsys.readouterr().out
    customer = Customer.objects.get(user__username="bob")
    raw_key = out.split("API key: ")[1].strip()
    assert customer.balance == Decimal("15.5")
    assert customer.user.check_password("s3cret-pass-123")
    assert raw_key not in customer.api_key_digest
    assert customer.ledger.get().kind == LedgerEntry.Kind.DEPOSIT


def test_create_customer_refuses_a_taken_name():
    call_command("create_customer", "bob")

    with pytest.raises(CommandError, match="already exists"):
        call_command("create_customer", "bob")


def test_add_funds_goes_through_the_ledger(capsys):
    call_command("create_customer", "carol")

    call_command("add_funds", "carol", "7.25", "--note", "wire")

    entry = LedgerEntry.objects.get(customer__user__username="carol")
    assert entry.amount == Decimal("7.25") and entry.note == "wire"
    with pytest.raises(CommandError):
        call_command("add_funds", "carol", "-3")
    with pytest.raises(CommandError):
        call_command("add_funds", "nobody", "3")


def test_check_ledger_passes_on_sound_books_and_names_a_hand_broken_balance(capsys):
    call_command("create_customer", "dave", "--balance", "10")
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out

    # when someone edits a balance behind the ledger's back
    Customer.objects.filter(user__username="dave").update(balance=Decimal("11"))

    with pytest.raises(CommandError):
        call_command("check_ledger")
    err = capsys.readouterr().err
    assert "dave" in err and "!= ledger sum 10" in err
