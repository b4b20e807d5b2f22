"""A payment request is approved or rejected on its own page, in one click, with a reason, through
accounts.services: the balance is credited once and the decision lands in the audit log."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Customer, LedgerEntry, PaymentRequest
from audit.models import AuditEntry
from tests.admin.conftest import staff_client
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ledger_checked_after(db):
    yield
    call_command("check_ledger", stdout=io.StringIO())


@pytest.fixture
def payment(db) -> PaymentRequest:
    customer = CustomerFactory(funds="10")
    return PaymentRequest.objects.create(customer=customer, amount=Decimal("50"), method="e_wallet",
                                         reference="OVO-778812")


def _page(client, payment) -> str:
    return client.get(reverse("admin:accounts_paymentrequest_change", args=[payment.pk])).content.decode()


def _decide(client, payment, **data):
    return client.post(reverse("admin:accounts_paymentrequest_decide", args=[payment.pk]), data, follow=True)


def _balance(payment) -> Decimal:
    return Customer.objects.get(pk=payment.customer_id).balance


def test_the_page_of_a_pending_request_offers_approve_and_reject_with_a_reason(admin_client, payment):
    html = _page(admin_client, payment)

    assert 'id="payment-decision"' in html
    assert 'name="decision" value="approve"' in html and 'name="decision" value="reject"' in html
    assert "Approve and credit 50.0000" in html
    assert '<textarea name="reason"' in html and "required" in html
    assert "E-wallet" in html and "e_wallet" not in html.split('id="content-main"')[1]  # the method's name
    assert 'name="_save"' not in html  # nothing on the request is edited by hand


def test_approve_credits_the_balance_once_and_writes_the_audit_row(admin_client, admin_user, payment):
    # when: approved from its page, then the same click arrives again (a double submit)
    first = _decide(admin_client, payment, decision="approve", reason="Seen on the OVO statement")
    second = _decide(admin_client, payment, decision="approve", reason="again")

    # then: credited once
    payment.refresh_from_db()
    assert payment.status == PaymentRequest.Status.APPROVED and payment.decided_by == admin_user
    assert payment.admin_note == "Seen on the OVO statement"
    assert _balance(payment) == Decimal("60")
    assert LedgerEntry.objects.filter(payment_request=payment).count() == 1
    [audit] = AuditEntry.objects.filter(subject_type="payment_request", subject_id=payment.pk)
    assert (audit.action, audit.actor, audit.reason, audit.customer_id) == (
        "payment_request.approve", admin_user, "Seen on the OVO statement", payment.customer_id)
    assert audit.changes["status"] == ["pending", "approved"]
    # and the operator was told each time, back on the request's page, which no longer offers a decision
    assert [str(m) for m in get_messages(first.wsgi_request)][-1].startswith(f"Payment request #{payment.pk} approved")
    assert "was already approved; nothing changed" in second.content.decode()
    assert 'id="payment-decision"' not in second.content.decode()
    assert "Seen on the OVO statement" in second.content.decode()  # the audit rows on the page


def test_reject_credits_nothing_and_writes_the_audit_row(admin_client, admin_user, payment):
    _decide(admin_client, payment, decision="reject", reason="No such transfer")

    payment.refresh_from_db()
    assert payment.status == PaymentRequest.Status.REJECTED and _balance(payment) == Decimal("10")
    assert not LedgerEntry.objects.filter(payment_request=payment).exists()
    [audit] = AuditEntry.objects.filter(subject_type="payment_request", subject_id=payment.pk)
    assert (audit.action, audit.reason, audit.changes["status"]) == (
        "payment_request.reject", "No such transfer", ["pending", "rejected"])


@pytest.mark.parametrize("data", [{"decision": "approve", "reason": ""}, {"decision": "approve", "reason": "   "},
                                  {"decision": "refund", "reason": "why not"}, {"reason": "no button"}])
def test_a_decision_without_a_reason_or_a_known_button_changes_nothing(admin_client, payment, data):
    page = _decide(admin_client, payment, **data)

    payment.refresh_from_db()
    assert payment.status == PaymentRequest.Status.PENDING and _balance(payment) == Decimal("10")
    assert not AuditEntry.objects.exists()
    assert "Nothing was decided." in page.content.decode()
    assert 'id="payment-decision"' in page.content.decode()  # still offered


def test_a_get_decides_nothing_and_view_only_staff_cannot_decide(admin_client, payment):
    assert admin_client.get(reverse("admin:accounts_paymentrequest_decide", args=[payment.pk])).status_code == 405

    viewer = staff_client("view_paymentrequest")
    assert 'id="payment-decision"' not in _page(viewer, payment)
    assert _decide(viewer, payment, decision="approve", reason="x").status_code == 403
    payment.refresh_from_db()
    assert payment.status == PaymentRequest.Status.PENDING


def test_the_bulk_actions_ask_for_a_reason_then_decide_each_pending_request(admin_client, payment):
    # given: a second pending request, and one decided already
    other = PaymentRequest.objects.create(customer=payment.customer, amount=Decimal("7"), method="bank_transfer")
    done = PaymentRequest.objects.create(customer=payment.customer, amount=Decimal("9"), method="crypto",
                                         status=PaymentRequest.Status.REJECTED)
    chosen = {"action": "approve", ACTION_CHECKBOX_NAME: [payment.pk, other.pk, done.pk], "index": "0"}
    changelist = reverse("admin:accounts_paymentrequest_changelist")

    # when: first without a reason, then with one
    asked = admin_client.post(changelist, chosen)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    assert PaymentRequest.objects.filter(status=PaymentRequest.Status.PENDING).count() == 2
    admin_client.post(changelist, {**chosen, "apply": "1", "reason": "Batch seen on the statement"}, follow=True)

    # then: the two pending ones are credited, the decided one untouched
    assert _balance(payment) == Decimal("67")
    assert set(PaymentRequest.objects.values_list("pk", "status")) == {
        (payment.pk, "approved"), (other.pk, "approved"), (done.pk, "rejected")}
    assert AuditEntry.objects.filter(action="payment_request.approve",
                                     reason="Batch seen on the statement").count() == 2
