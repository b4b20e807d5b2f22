"""The order admin: nothing a service owns can be edited; every change is an action with a reason, audited."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from accounts import services as money
from accounts.models import Customer, LedgerEntry
from audit.models import AuditEntry
from orders.models import CancelRequest, Order, Refill, Stage, Status
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

D = Decimal
CHARGE = D("1.20000")
# Fields a transition or the ledger owns: none may have an editable widget on the change form.
OWNED_FIELDS = ("stage", "status", "remains", "quantity", "upstream_id", "posts_charged", "charge", "refunded",
                "rate", "runs", "start_count", "attention", "last_error", "customer", "service", "provider",
                "source", "send_attempts", "next_attempt_at", "sent_at", "finished_at", "settled_at")
REQUEST_FIELDS = ("order", "upstream_id", "status", "stage", "error", "last_checked_at")


@pytest.fixture(autouse=True)
def _ledger_checked_after(db):
    yield
    call_command("check_ledger", stdout=io.StringIO())


def _paid_order(*, stage: str = Stage.SENT, upstream_id: str = "123", status: str = Status.IN_PROGRESS,
                **fields) -> Order:
    """An order charged through the ledger, in the given stage, as the pipeline would have left it."""
    customer, _key = money.customer_create(username=f"buyer{Customer.objects.count()}", password="pw-buyer-123",
                                           balance="100")
    service = ServiceFactory(rate=D("1.20"))
    with transaction.atomic():
        locked = money.lock_customer(customer.pk)
        order = Order.objects.create(customer=customer, service=service, provider=service.provider,
                                     link="https://x.test/a", quantity=1000, rate=service.rate, charge=CHARGE,
                                     stage=stage, status=status, upstream_id=upstream_id, **fields)
        money.balance_charge(customer=locked, order_id=order.pk, amount=CHARGE)
    return order


def _row(model, pk: int) -> dict:
    return model.objects.filter(pk=pk).values().get()


def _editable_widgets(html: str, names) -> list[str]:
    return [name for name in names
            if re.search(rf'<(input|select|textarea)\b[^>]*\bname="{re.escape(name)}"', html)]


def _hidden_inputs(html: str) -> dict:
    """The hidden fields of a rendered admin form (the inlines' management forms), as a browser would send them."""
    return {name: value for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
            if name != "csrfmiddlewaretoken"}


def _action(client, action: str, orders, **data):
    return client.post(reverse("admin:orders_order_changelist"),
                       {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in orders], "index": "0", **data},
                       follow=True)


# --- read-only change forms ---------------------------------------------------------------------


def test_order_change_form_has_no_editable_owned_field(admin_client):
    # given
    order = _paid_order()

    # when
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    # then: the values are shown, none can be edited
    html = page.content.decode()
    assert page.status_code == 200
    assert "123" in html and "1.2" in html
    assert _editable_widgets(html, OWNED_FIELDS) == []


def test_a_forged_order_change_form_changes_nothing(admin_client):
    # given
    order = _paid_order()
    before, ledger = _row(Order, order.pk), LedgerEntry.objects.count()
    balance = Customer.objects.get(pk=order.customer_id).balance

    change_url = reverse("admin:orders_order_change", args=[order.pk])
    form = _hidden_inputs(admin_client.get(change_url).content.decode())

    # when: the form comes back carrying new values for what the services own
    response = admin_client.post(change_url, form | {
        "stage": "final", "status": "Canceled", "remains": "1000", "quantity": "1", "upstream_id": "999",
        "posts_charged": "5", "charge": "0", "refunded": "1.2", "customer": "", "attention": "", "_save": "Save",
    })

    # then: accepted as a save of nothing
    assert response.status_code == 302
    assert _row(Order, order.pk) == before
    assert Customer.objects.get(pk=order.customer_id).balance == balance
    assert LedgerEntry.objects.count() == ledger


def test_orders_cannot_be_added_or_deleted_even_by_a_superuser(admin_client):
    order = _paid_order()

    add = admin_client.get(reverse("admin:orders_order_add"))
    delete = admin_client.post(reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"})
    bulk = _action(admin_client, "delete_selected", [order], post="yes")

    assert add.status_code == 403 and delete.status_code == 403
    assert bulk.status_code == 200 and Order.objects.filter(pk=order.pk).exists()


@pytest.mark.parametrize("model, url_name", [(Refill, "refill"), (CancelRequest, "cancelrequest")])
def test_refill_and_cancel_rows_are_read_only(admin_client, model, url_name):
    # given
    order = _paid_order()
    request_row = model.objects.create(order=order, upstream_id="r-1", stage="sent", status="In progress")
    before = _row(model, request_row.pk)
    change_url = reverse(f"admin:orders_{url_name}_change", args=[request_row.pk])

    # when
    page = admin_client.get(change_url)
    forged = admin_client.post(change_url, _hidden_inputs(page.content.decode()) | {
        "order": "", "upstream_id": "r-2", "status": "Completed", "stage": "final", "error": "x", "_save": "Save"})
    add = admin_client.get(reverse(f"admin:orders_{url_name}_add"))
    delete = admin_client.post(reverse(f"admin:orders_{url_name}_delete", args=[request_row.pk]), {"post": "yes"})

    # then
    assert page.status_code == 200 and "r-1" in page.content.decode()
    assert _editable_widgets(page.content.decode(), REQUEST_FIELDS) == []
    assert forged.status_code == 302
    assert add.status_code == 403 and delete.status_code == 403
    assert _row(model, request_row.pk) == before


# --- actions: a reason, the service, an audit row --------------------------------------------------


def _audited(order: Order, action: str) -> AuditEntry:
    return AuditEntry.objects.get(subject_type="order", subject_id=order.pk, action=action)


def test_each_action_first_asks_for_a_reason(admin_client):
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING)

    for action in ("send_again", "set_upstream_id", "cancel_and_refund", "mark_resolved"):
        page = _action(admin_client, action, [order])
        assert page.status_code == 200 and 'name="reason"' in page.content.decode(), action
    assert _row(Order, order.pk)["stage"] == Stage.UNKNOWN
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("action, extra", [
    ("send_again", {}),
    ("set_upstream_id", {"upstream_id": "555"}),
    ("cancel_and_refund", {}),
    ("mark_resolved", {}),
])
@pytest.mark.parametrize("reason", ["", "   "])
def test_an_empty_reason_is_refused_and_changes_nothing(admin_client, action, extra, reason):
    # given
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING, attention="check it")
    before = _row(Order, order.pk)

    # when
    page = _action(admin_client, action, [order], apply="1", reason=reason, **extra)

    # then
    assert page.status_code == 200 and "This field is required" in page.content.decode()
    assert _row(Order, order.pk) == before
    assert not AuditEntry.objects.exists()


def test_send_again_with_a_reason_goes_back_to_paid_and_is_audited(admin_client, admin_user):
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING)

    page = _action(admin_client, "send_again", [order], apply="1", reason="not found at the provider")

    assert "1 order(s) queued to be sent again" in page.content.decode()
    order.refresh_from_db()
    assert order.stage == Stage.PAID
    entry = _audited(order, "order.send_again")
    assert (entry.actor, entry.customer_id, entry.reason) == (admin_user, order.customer_id,
                                                              "not found at the provider")
    assert entry.changes["stage"] == ["unknown", "paid"]


def test_set_upstream_id_with_a_reason_sends_the_order_and_is_audited(admin_client, admin_user):
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING)

    page = _action(admin_client, "set_upstream_id", [order], apply="1", upstream_id=" 777 ",
                   reason="seen in the provider's panel")

    assert "is sent; its status will be polled" in page.content.decode()
    order.refresh_from_db()
    assert (order.stage, order.upstream_id) == (Stage.SENT, "777")
    entry = _audited(order, "order.set_upstream_id")
    assert (entry.actor, entry.reason) == (admin_user, "seen in the provider's panel")
    assert entry.changes["upstream_id"] == ["", "777"]


def test_set_upstream_id_needs_the_id_too(admin_client):
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING)

    page = _action(admin_client, "set_upstream_id", [order], apply="1", upstream_id="", reason="seen upstream")

    assert page.status_code == 200 and "This field is required" in page.content.decode()
    assert _row(Order, order.pk)["stage"] == Stage.UNKNOWN and not AuditEntry.objects.exists()


def test_set_upstream_id_takes_one_order_at_a_time(admin_client):
    orders = [_paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING) for _ in range(2)]

    page = _action(admin_client, "set_upstream_id", orders, apply="1", upstream_id="1", reason="r")

    assert "Choose exactly one order" in page.content.decode()
    assert set(Order.objects.values_list("stage", flat=True)) == {Stage.UNKNOWN}


def test_cancel_and_refund_with_a_reason_refunds_and_is_audited(admin_client, admin_user):
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING)
    balance = Customer.objects.get(pk=order.customer_id).balance

    page = _action(admin_client, "cancel_and_refund", [order], apply="1", reason="customer asked by ticket")

    assert "1 order(s) canceled and refunded" in page.content.decode()
    order.refresh_from_db()
    assert (order.stage, order.status, order.refunded) == (Stage.FINAL, Status.CANCELED, CHARGE)
    assert Customer.objects.get(pk=order.customer_id).balance == balance + CHARGE
    entry = _audited(order, "order.cancel_and_refund")
    assert (entry.actor, entry.reason) == (admin_user, "customer asked by ticket")
    assert entry.changes["status"][1] == Status.CANCELED


def test_cancel_and_refund_skips_a_sent_order(admin_client):
    order = _paid_order()
    before = _row(Order, order.pk)

    page = _action(admin_client, "cancel_and_refund", [order], apply="1", reason="customer asked")

    assert "1 order(s) skipped" in page.content.decode()
    assert _row(Order, order.pk) == before and not AuditEntry.objects.exists()


def test_mark_resolved_clears_the_note_only_and_is_audited(admin_client, admin_user):
    # given: a sent order the poller flagged, and one with nothing to resolve
    flagged = _paid_order(attention="The upstream calls this id incorrect")
    quiet = _paid_order()
    before = _row(Order, flagged.pk)

    # when
    page = _action(admin_client, "mark_resolved", [flagged, quiet], apply="1", reason="checked: id is right")

    # then
    body = page.content.decode()
    assert "1 order(s) marked resolved" in body and "1 order(s) skipped" in body
    after = _row(Order, flagged.pk)
    assert after["attention"] == ""
    assert {k: v for k, v in after.items() if k not in ("attention", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("attention", "updated_at")}
    entry = _audited(flagged, "order.mark_resolved")
    assert (entry.actor, entry.reason) == (admin_user, "checked: id is right")
    assert not AuditEntry.objects.filter(subject_id=quiet.pk, subject_type="order").exists()


def test_the_order_page_shows_its_audit_rows(admin_client):
    order = _paid_order(stage=Stage.UNKNOWN, upstream_id="", status=Status.PENDING)
    _action(admin_client, "send_again", [order], apply="1", reason="nothing arrived <b>upstream</b>")

    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    html = page.content.decode()
    assert "order.send_again" in html and "nothing arrived &lt;b&gt;upstream&lt;/b&gt;" in html
