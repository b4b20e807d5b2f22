"""Queueing mail: one row per event key, enqueued after commit, the customer's choices respected."""

from __future__ import annotations

import pytest
from django.db import transaction

from notify.models import MailPreference, SentMail
from notify.preferences import customer_ids_opted_in, preferences_save
from notify.services import notify_customer, notify_customers, notify_staff
from tests.factories import CustomerFactory, UserFactory
from tests.notify.conftest import STAFF

pytestmark = pytest.mark.django_db

CONTEXT = {"order_id": 7, "refill_id": 3, "reason": "Not eligible"}


def test_one_event_mails_once_and_is_enqueued_after_commit(enqueued, django_capture_on_commit_callbacks):
    # given
    customer = CustomerFactory()

    # when: the same event is reported twice
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify_customer(kind="refill_rejected", event_key="refill_rejected:3", customer_id=customer.pk,
                        context=CONTEXT)
        notify_customer(kind="refill_rejected", event_key="refill_rejected:3", customer_id=customer.pk,
                        context=CONTEXT)

    # then: one row, queued, to the customer's address, one task for it
    row = SentMail.objects.get()
    assert (row.kind, row.to_address, row.customer_id, row.state, row.language) == (
        "refill_rejected", customer.user.email, customer.pk, SentMail.State.QUEUED, "en")
    assert row.context == CONTEXT
    assert len(callbacks) == 1 and enqueued == [[row.pk]]


def test_a_rolled_back_change_mails_nobody(enqueued, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                notify_customer(kind="refill_rejected", event_key="refill_rejected:9", customer_id=customer.pk,
                                context=CONTEXT)
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert not SentMail.objects.exists()
    assert callbacks == [] and enqueued == []


def test_bulk_queueing_takes_the_same_queries_for_one_or_fifty(enqueued, django_assert_num_queries,
                                                               django_capture_on_commit_callbacks):
    customers = [CustomerFactory() for _ in range(50)]
    items = [(f"refill_rejected:{c.pk}", c.pk, CONTEXT) for c in customers]

    with django_assert_num_queries(4):
        assert notify_customers(kind="refill_rejected", items=items[:1]) == 1
    with django_assert_num_queries(4), django_capture_on_commit_callbacks(execute=True):
        assert notify_customers(kind="refill_rejected", items=items[1:]) == 49
    # Known keys cost one query and queue nothing.
    with django_assert_num_queries(1):
        assert notify_customers(kind="refill_rejected", items=items) == 0
    assert SentMail.objects.count() == 50
    # One task per batch of ids (SEND_BATCH_SIZE = 50).
    assert [len(batch) for batch in enqueued] == [49]


def test_a_kind_the_customer_turned_off_is_recorded_as_skipped(enqueued, django_capture_on_commit_callbacks):
    # given: a customer who turned refunds off
    customer = CustomerFactory()
    preferences_save(customer_id=customer.pk, wanted={"deposit_credited", "refill_rejected"}, language="en")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        queued = notify_customer(kind="order_refunded", event_key="order_refunded:1:partial",
                                 customer_id=customer.pk, context={})

    # then
    row = SentMail.objects.get()
    assert queued is None and row.state == SentMail.State.SKIPPED and "turned this mail off" in row.last_error
    assert enqueued == []


def test_opt_in_kind_goes_only_to_customers_who_turned_it_on(enqueued):
    silent, keen = CustomerFactory(), CustomerFactory()
    preferences_save(customer_id=keen.pk, wanted={"service_updates"}, language="id")

    assert customer_ids_opted_in("service_updates") == {keen.pk}
    context = {"changes": [], "since": "a", "until": "b"}
    queued = notify_customers(kind="service_updates",
                              items=[(f"service_updates:{c.pk}:2026-W01", c.pk, context) for c in (silent, keen)])

    assert queued == 1
    states = dict(SentMail.objects.values_list("customer_id", "state"))
    assert states == {silent.pk: SentMail.State.SKIPPED, keen.pk: SentMail.State.QUEUED}
    assert SentMail.objects.get(customer_id=keen.pk).language == "id"


def test_no_address_or_an_inactive_account_is_skipped():
    no_address = CustomerFactory(user=UserFactory(email=""))
    inactive = CustomerFactory(is_active=False)
    notify_customers(kind="refill_rejected", items=[
        ("refill_rejected:1", no_address.pk, CONTEXT), ("refill_rejected:2", inactive.pk, CONTEXT)])
    rows = {row.customer_id: row for row in SentMail.objects.all()}
    assert rows[no_address.pk].state == rows[inactive.pk].state == SentMail.State.SKIPPED
    assert rows[no_address.pk].last_error == "no email address"
    assert rows[inactive.pk].last_error == "the account is inactive"


def test_staff_mail_goes_to_the_support_address_once(enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify_staff(kind="ticket_new", event_key="ticket_new:1", context={"ticket_id": 1})
        notify_staff(kind="ticket_new", event_key="ticket_new:1", context={"ticket_id": 1})
    row = SentMail.objects.get()
    assert (row.to_address, row.customer_id, row.state) == (STAFF, None, SentMail.State.QUEUED)
    assert enqueued == [[row.pk]]


def test_no_support_address_means_no_staff_mail(settings):
    settings.SUPPORT_EMAIL = ""
    notify_staff(kind="provider_balance_low", event_key="provider_balance_low:1:x", context={})
    assert not SentMail.objects.exists()


def test_unknown_kinds_and_bad_keys_are_refused():
    customer = CustomerFactory()
    with pytest.raises(ValueError):
        notify_customer(kind="order_refundd", event_key="k", customer_id=customer.pk, context={})
    with pytest.raises(ValueError):
        notify_staff(kind="ticket_answered", event_key="k", context={})
    with pytest.raises(ValueError):
        notify_customer(kind="order_refunded", event_key="", customer_id=customer.pk, context={})
    with pytest.raises(ValueError):
        preferences_save(customer_id=customer.pk, wanted={"password_reset"}, language="en")
    assert not SentMail.objects.exists() and not MailPreference.objects.exists()
