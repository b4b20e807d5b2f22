"""The customer admin: the balance moves only through the ledger, by an action with a reason, audited."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse

from accounts import services as money
from accounts.models import Customer, LedgerEntry
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db

D = Decimal
OWNED_FIELDS = ("balance", "api_key_prefix", "api_key_digest", "api_key_created_at", "user")


@pytest.fixture(autouse=True)
def _ledger_checked_after(db):
    yield
    call_command("check_ledger", stdout=io.StringIO())


def _customer(username: str = "buyer", balance: str = "50") -> Customer:
    customer, _key = money.customer_create(username=username, password="pw-buyer-123", balance=balance)
    return customer


def _editable_widgets(html: str, names) -> list[str]:
    return [name for name in names
            if re.search(rf'<(input|select|textarea)\b[^>]*\bname="{re.escape(name)}"', html)]


def _hidden_inputs(html: str) -> dict:
    """The hidden fields of a rendered admin form (the inlines' management forms), as a browser would send them."""
    return {name: value for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
            if name != "csrfmiddlewaretoken"}


def _adjust(client, customers, **data):
    return client.post(reverse("admin:accounts_customer_changelist"),
                       {"action": "adjust_balance", ACTION_CHECKBOX_NAME: [c.pk for c in customers], "index": "0",
                        **data}, follow=True)


def test_customer_change_form_shows_the_balance_but_cannot_edit_it(admin_client):
    customer = _customer()

    page = admin_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))

    html = page.content.decode()
    assert page.status_code == 200 and "50" in html
    assert _editable_widgets(html, OWNED_FIELDS) == []
    assert _editable_widgets(html, ["discount_percent", "is_active", "timezone"]) == [
        "discount_percent", "is_active", "timezone"]


def test_a_forged_customer_form_saves_the_editable_fields_only(admin_client):
    # given
    customer = _customer()
    ledger = LedgerEntry.objects.count()

    change_url = reverse("admin:accounts_customer_change", args=[customer.pk])
    form = _hidden_inputs(admin_client.get(change_url).content.decode())

    # when: the form comes back also carrying a balance and a key prefix
    response = admin_client.post(change_url, form | {
        "balance": "9999", "api_key_prefix": "forged", "user": "", "discount_percent": "5", "is_active": "on",
        "timezone": "UTC", "_save": "Save",
    })

    # then
    assert response.status_code == 302
    after = Customer.objects.get(pk=customer.pk)
    assert (after.balance, after.api_key_prefix, after.discount_percent) == (
        customer.balance, customer.api_key_prefix, D("5"))
    assert LedgerEntry.objects.count() == ledger


def test_customers_and_ledger_rows_cannot_be_added_or_deleted(admin_client):
    customer = _customer()
    entry = LedgerEntry.objects.get(customer=customer)

    responses = [
        admin_client.get(reverse("admin:accounts_customer_add")),
        admin_client.post(reverse("admin:accounts_customer_delete", args=[customer.pk]), {"post": "yes"}),
        admin_client.post(reverse("admin:accounts_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}),
        admin_client.post(reverse("admin:accounts_ledgerentry_change", args=[entry.pk]), {"amount": "1"}),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert Customer.objects.filter(pk=customer.pk).exists() and LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_adjust_balance_asks_then_moves_the_balance_through_the_ledger(admin_client, admin_user):
    # given
    customer = _customer(balance="50")

    # when: the action shows its form, then it is applied
    page = _adjust(admin_client, [customer])
    done = _adjust(admin_client, [customer], apply="1", amount="-12.5", reason="double deposit reversed")

    # then
    assert 'name="amount"' in page.content.decode() and 'name="reason"' in page.content.decode()
    assert "adjusted by -12.5" in done.content.decode()
    customer.refresh_from_db()
    assert customer.balance == D("37.5")
    entry = LedgerEntry.objects.get(customer=customer, kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (entry.amount, entry.note, entry.created_by) == (D("-12.5"), "double deposit reversed", admin_user)
    audit = AuditEntry.objects.get(subject_type="customer", subject_id=customer.pk)
    assert (audit.action, audit.actor, audit.customer_id, audit.reason) == (
        "customer.balance_adjust", admin_user, customer.pk, "double deposit reversed")
    assert audit.changes == {"balance": ["50.00000", "37.50000"]}


@pytest.mark.parametrize("amount, reason, message", [
    ("5", "", "This field is required"),
    ("5", "   ", "This field is required"),
    ("", "goodwill", "This field is required"),
    ("0", "goodwill", "An adjustment cannot be zero"),
    ("-80", "goodwill", "Not enough funds on balance"),
    ("0.000001", "goodwill", "decimal places"),
])
def test_adjust_balance_refuses_with_a_form_error_and_changes_nothing(admin_client, amount, reason, message):
    customer = _customer(balance="50")
    ledger = LedgerEntry.objects.count()

    page = _adjust(admin_client, [customer], apply="1", amount=amount, reason=reason)

    assert page.status_code == 200 and message in page.content.decode()
    assert 'name="amount"' in page.content.decode()
    assert Customer.objects.get(pk=customer.pk).balance == D("50")
    assert LedgerEntry.objects.count() == ledger and not AuditEntry.objects.exists()


def test_adjust_balance_takes_one_customer_at_a_time(admin_client):
    customers = [_customer("one"), _customer("two")]

    page = _adjust(admin_client, customers, apply="1", amount="5", reason="goodwill")

    assert "Choose exactly one customer" in page.content.decode()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()


def test_the_customer_page_shows_its_audit_rows(admin_client):
    customer = _customer()
    _adjust(admin_client, [customer], apply="1", amount="3", reason="compensation for a late order")

    page = admin_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))

    html = page.content.decode()
    assert "customer.balance_adjust" in html and "compensation for a late order" in html
