"""Order and customer pages in the admin: an order shows the fields of its type only; a customer shows their
orders, payments, tickets and ledger; nothing that the ledger points at can be deleted."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Deposit, LedgerEntry, PaymentRequest
from orders.models import Stage, Status
from providers import ordertypes as ot
from support.models import Ticket
from tests.admin.conftest import deposit
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _order_fields(client, order) -> set[str]:
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    return set(re.findall(r'class="form-row field-([a-z_]+)', html))


def test_a_default_order_shows_link_and_quantity_but_no_other_types_fields(admin_client):
    order = OrderFactory(service=ServiceFactory(type=ot.DEFAULT))

    fields = _order_fields(admin_client, order)

    assert {"link", "quantity", "charge", "stage", "status", "upstream_charge", "profit"} <= fields
    assert not fields & {"comments", "usernames", "hashtags", "groups", "hashtag", "username", "media",
                         "answer_number", "runs", "interval", "runs_done", "child_orders", "sub_min", "sub_max",
                         "sub_posts", "sub_old_posts", "sub_delay", "sub_expiry", "posts_done", "posts_charged"}


def test_a_drip_feed_order_shows_its_runs(admin_client):
    order = OrderFactory(service=ServiceFactory(type=ot.DEFAULT, dripfeed=True), quantity=100, runs=3, interval=10)

    assert {"runs", "interval", "runs_done", "child_orders"} <= _order_fields(admin_client, order)


@pytest.mark.parametrize(("type_name", "shown", "hidden"), [
    (ot.CUSTOM_COMMENTS, {"link", "comments", "quantity"}, {"usernames", "username", "runs", "sub_min"}),
    (ot.MENTIONS_USER_FOLLOWERS, {"link", "quantity", "username"}, {"comments", "usernames", "media"}),
    (ot.POLL, {"link", "quantity", "answer_number"}, {"comments", "username", "groups"}),
    (ot.SUBSCRIPTIONS, {"username", "sub_min", "sub_max", "sub_delay", "sub_posts", "sub_old_posts", "sub_expiry",
                        "posts_done", "posts_charged"}, {"link", "quantity", "comments", "runs", "answer_number"}),
])
def test_each_type_shows_its_own_fields(admin_client, type_name, shown, hidden):
    order = OrderFactory(service=ServiceFactory(type=type_name), quantity=0 if type_name == ot.SUBSCRIPTIONS else 10)

    fields = _order_fields(admin_client, order)

    assert shown <= fields and not fields & hidden


def test_orders_customers_ledger_deposits_and_payment_requests_cannot_be_deleted(admin_client):
    # given: one of each, the customer's ledger rows included
    order = OrderFactory()
    customer = order.customer
    payment = PaymentRequest.objects.create(customer=customer, amount=Decimal("5"), method="bank_transfer")
    records = {
        "orders_order": order.pk, "accounts_customer": customer.pk,
        "accounts_ledgerentry": LedgerEntry.objects.filter(customer=customer).first().pk,
        "accounts_deposit": deposit(customer, Deposit.Status.PENDING).pk, "accounts_paymentrequest": payment.pk,
    }

    for name, pk in records.items():
        # then: no delete page, no delete button, no bulk delete
        assert admin_client.get(reverse(f"admin:{name}_delete", args=[pk])).status_code == 403, name
        assert admin_client.post(reverse(f"admin:{name}_delete", args=[pk]), {"post": "yes"}).status_code == 403
        change = admin_client.get(reverse(f"admin:{name}_change", args=[pk])).content.decode()
        assert "deletelink" not in change, name
        changelist = admin_client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert 'value="delete_selected"' not in changelist, name
    # and every one is still there
    assert customer.__class__.objects.filter(pk=customer.pk).exists() and order.__class__.objects.filter(
        pk=order.pk).exists()
    # while a customer can still be switched off
    assert 'name="is_active"' in admin_client.get(
        reverse("admin:accounts_customer_change", args=[customer.pk])).content.decode()


def _customer_with_history(orders: int):
    customer = CustomerFactory(funds="100")
    service = ServiceFactory()
    for n in range(orders):
        OrderFactory(customer=customer, service=service, stage=Stage.FINAL, status=Status.COMPLETED,
                     attention="check" if n == 0 else "")
        PaymentRequest.objects.create(customer=customer, amount=Decimal("5"), method="bank_transfer",
                                      reference=f"ref-{n}")
        deposit(customer, Deposit.Status.PENDING)
        Ticket.objects.create(customer=customer, subject=Ticket.Subject.ORDER, summary=f"Question {n}")
    return customer


def test_a_customers_page_lists_their_orders_payments_tickets_and_ledger_with_links_to_all(admin_client):
    # given: a customer with 12 of each (more than the page lists) and another customer
    customer = _customer_with_history(12)
    OrderFactory()

    # when
    html = admin_client.get(reverse("admin:accounts_customer_change", args=[customer.pk])).content.decode()

    # then: each list's latest rows, its count, and a link to the full list filtered to this customer
    for section, count, url in [
        ("orders", 12, f"{reverse('admin:orders_order_changelist')}?customer__id__exact={customer.pk}"),
        ("deposits", 12, f"{reverse('admin:accounts_deposit_changelist')}?customer__id__exact={customer.pk}"),
        ("payment_requests", 12,
         f"{reverse('admin:accounts_paymentrequest_changelist')}?customer__id__exact={customer.pk}"),
        ("tickets", 12, f"{reverse('admin:support_ticket_changelist')}?customer={customer.pk}"),
        ("ledger", LedgerEntry.objects.filter(customer=customer).count(),
         f"{reverse('admin:accounts_ledgerentry_changelist')}?customer__id__exact={customer.pk}"),
    ]:
        part = html.split(f'data-section="{section}"')[1].split('data-section=')[0]
        assert f": {count}" in part and url.replace("&", "&amp;") in part, section
        assert part.count('<th scope="row">') == 10, section
        listing = admin_client.get(url)
        assert listing.status_code == 200 and listing.context["cl"].result_count == count, section


def test_a_customers_page_costs_the_same_queries_whatever_their_history(admin_client):
    small, large = _customer_with_history(1), _customer_with_history(15)
    admin_client.get(reverse("admin:accounts_customer_change", args=[small.pk]))

    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("admin:accounts_customer_change", args=[small.pk]))
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse("admin:accounts_customer_change", args=[large.pk]))

    assert len(many) == len(few), [q["sql"][:100] for q in many]
