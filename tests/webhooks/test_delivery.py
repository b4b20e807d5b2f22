"""Delivery to a receiver written from the API page alone: every event arrives signed, retries back off and
keep the event id, an order's events keep their order, and a failing URL is turned off with a mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notify.kinds import CUSTOMER_KINDS
from notify.models import SentMail
from orders.models import OrderStatusChange, Status
from tests.webhooks.support import deliver_due, history, sent_order
from webhooks.delivery import event_deliver, events_due
from webhooks.events import events_collect
from webhooks.models import WebhookEndpoint, WebhookEvent
from webhooks.services import endpoint_enable, endpoint_send_test

pytestmark = pytest.mark.django_db


def test_every_event_arrives_signed_and_de_duplicable(reseller, endpoint, receiver):
    orders = [sent_order(reseller) for _ in range(3)]
    for order in orders:
        history(order, Status.IN_PROGRESS, remains=700, start_count=10)
        history(order, Status.COMPLETED, remains=0, start_count=10)
    events_collect()

    outcomes = deliver_due(now=timezone.now())

    assert outcomes == ["delivered"] * 6
    assert receiver.all_verified and len(receiver.requests) == 6
    assert set(receiver.events) == set(WebhookEvent.objects.values_list("event_id", flat=True))
    for request in receiver.requests:
        assert request["headers"]["webhook-id"] == receiver.bodies()[receiver.requests.index(request)]["event_id"]
        assert request["headers"]["content-type"] == "application/json"
    assert receiver.order_statuses == {order.pk: ["In progress", "Completed"] for order in orders}
    assert set(WebhookEvent.objects.values_list("state", "response_code", "attempts")) == {("delivered", 200, 1)}


def test_a_lost_answer_is_retried_with_the_same_id_and_kept_once(reseller, endpoint, receiver):
    # given: the receiver keeps the first delivery but its answer is lost (it answers 500)
    receiver.lose_answers = 1
    history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()
    event = WebhookEvent.objects.get()
    start = timezone.now()

    # when
    first = event_deliver(event_id=event.pk, now=start)
    retry = event_deliver(event_id=event.pk, now=start + timedelta(seconds=31))

    # then: two requests with one id, one event kept
    assert (first, retry) == ("failed", "delivered")
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [event.event_id] * 2
    assert list(receiver.events) == [event.event_id] and receiver.all_verified


def test_retries_back_off_exponentially_on_500s(reseller, endpoint, receiver):
    receiver.answers = [500, 500, 503, 500]
    history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()
    event = WebhookEvent.objects.get()
    now = timezone.now()

    waits = []
    for _ in range(4):
        assert event_deliver(event_id=event.pk, now=now) == "failed"
        assert event_deliver(event_id=event.pk, now=now) == "not due"  # no tight loop
        event.refresh_from_db()
        waits.append((event.next_attempt_at - now).total_seconds())
        now = event.next_attempt_at
    assert waits == [30, 60, 120, 240]
    assert (event.attempts, event.response_code, event.last_error) == (4, 500, "HTTP 500")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failure_run == 4

    # the fifth try gets through: delivered, and the endpoint's failure run is over
    assert event_deliver(event_id=event.pk, now=now) == "delivered"
    event.refresh_from_db()
    assert (event.state, event.attempts, event.response_code, event.delivered_at) == ("delivered", 5, 200, now)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, failure_run=0, retry_at=None).exists()
    assert len(receiver.events) == 1 and receiver.all_verified


def test_an_event_is_given_up_after_the_retry_window(reseller, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_HOURS = 1
    settings.WEBHOOK_RETRY_MAX_SECONDS = 900
    receiver.answers = [500] * 50
    order = sent_order(reseller)
    history(order, Status.IN_PROGRESS, remains=5)
    history(order, Status.COMPLETED, remains=0)
    events_collect()
    first, second = WebhookEvent.objects.order_by("id")
    now = first.created_at

    for _ in range(20):
        if event_deliver(event_id=first.pk, now=now) == "not due":
            break
        first.refresh_from_db()
        if first.state != "pending":
            break
        now = first.next_attempt_at

    first.refresh_from_db()
    assert first.state == "failed" and first.next_attempt_at is None
    assert first.last_attempt_at < first.created_at + timedelta(hours=1)
    # the order's next event is no longer held back
    assert second.pk in events_due(now=now + timedelta(hours=1))


def test_an_order_s_later_event_waits_for_the_earlier_one(reseller, endpoint, receiver):
    # given: two changes of one order and one of another; the first delivery fails
    receiver.answers = [500]
    order, other = sent_order(reseller), sent_order(reseller)
    history(order, Status.IN_PROGRESS, remains=300)
    history(order, Status.COMPLETED, remains=0)
    history(other, Status.PARTIAL, remains=40)
    events_collect()
    started, completed, partial = WebhookEvent.objects.order_by("id")
    now = timezone.now()

    # when / then: only the first event of each order is due
    assert events_due(now=now) == [started.pk, partial.pk]
    assert event_deliver(event_id=started.pk, now=now) == "failed"
    assert event_deliver(event_id=completed.pk, now=now) == "not due"  # even when asked for directly
    assert event_deliver(event_id=partial.pk, now=now) == "delivered"
    assert events_due(now=now) == []

    # and once the first is delivered, the second goes
    later = now + timedelta(seconds=31)
    assert deliver_due(now=later) == ["delivered", "delivered"]
    assert receiver.order_statuses == {other.pk: ["Partial"], order.pk: ["In progress", "Completed"]}


def test_a_failing_endpoint_gets_one_probe_at_a_time(reseller, endpoint, receiver):
    receiver.answers = [500]
    for _ in range(3):
        history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()
    first = WebhookEvent.objects.order_by("id").first()
    now = timezone.now()
    assert event_deliver(event_id=first.pk, now=now) == "failed"

    assert events_due(now=now) == []  # the endpoint waits as a whole
    after = now + timedelta(seconds=31)
    assert len(events_due(now=after)) == 1  # then one event, not all three
    assert deliver_due(now=after) == ["delivered"] * 3


def test_the_endpoint_is_disabled_after_n_failures_in_a_row_with_a_mail(reseller, endpoint, receiver, settings):
    # given
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    receiver.answers = [500] * 3
    orders = [sent_order(reseller) for _ in range(4)]
    for order in orders:
        history(order, Status.COMPLETED, remains=0)
    events_collect()
    events = list(WebhookEvent.objects.order_by("id"))
    now = timezone.now()

    # when: three attempts fail in a row
    for event in events[:3]:
        assert event_deliver(event_id=event.pk, now=now) == "failed"

    # then: turned off, its owner mailed once, and nothing more is sent to it
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.failure_run, endpoint.disabled_at) == (False, 3, now)
    mail = SentMail.objects.get(kind="webhook_disabled")
    assert mail.customer_id == reseller.pk and mail.event_key.startswith(f"webhook_disabled:{endpoint.pk}:")
    assert mail.context["url"] == receiver.url and mail.context["failures"] == 3
    assert events_due(now=now + timedelta(days=1)) == []
    assert event_deliver(event_id=events[3].pk, now=now + timedelta(hours=1)) == "not due"

    # when the customer turns it back on, its pending events go out
    assert endpoint_enable(customer=reseller, endpoint_id=endpoint.pk)
    assert deliver_due(now=now + timedelta(hours=2)) == ["delivered"] * 4
    assert len(receiver.events) == 4 and receiver.all_verified


def test_the_disabled_mail_is_a_known_kind_in_english_and_indonesian():
    from django.template.loader import render_to_string
    from django.utils import translation

    assert "webhook_disabled" in CUSTOMER_KINDS
    context = {"panel_name": "Panel", "url": "https://hooks.example.com/x", "failures": 20, "last_error": "HTTP 500",
               "endpoint_id": 1}
    english = render_to_string("email/webhook_disabled.txt", context)
    with translation.override("id"):
        indonesian = render_to_string("email/webhook_disabled.txt", context)
        subject = render_to_string("email/webhook_disabled.subject.txt", context)
        html = render_to_string("email/webhook_disabled.html", context)
    assert "after 20 failed deliveries in a row" in english
    assert "20 kali" in indonesian and "https://hooks.example.com/x" in indonesian
    assert "dinonaktifkan" in subject and "https://hooks.example.com/x" in html


def test_a_test_event_goes_at_once_and_is_not_retried(reseller, endpoint, receiver, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    from webhooks import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        event = endpoint_send_test(customer=reseller, endpoint_id=endpoint.pk)
    assert queued == [event.pk]

    assert tasks.webhook_deliver_task(event.pk) == "delivered"
    assert receiver.bodies()[0]["event"] == "webhook.test" and receiver.all_verified

    receiver.answers = [404]
    failed = endpoint_send_test(customer=reseller, endpoint_id=endpoint.pk)
    assert event_deliver(event_id=failed.pk) == "failed"
    failed.refresh_from_db()
    assert (failed.state, failed.response_code, failed.next_attempt_at) == ("failed", 404, None)


def test_the_order_is_the_history_s_even_when_a_row_commits_late(reseller, endpoint, receiver):
    # given: a change whose row committed after a later one's, so its event was made second
    order = sent_order(reseller)
    top = OrderStatusChange.objects.create(order=order, status=Status.PENDING).id
    OrderStatusChange.objects.create(id=top + 10, order=order, status=Status.COMPLETED, remains=0)
    events_collect()
    WebhookEvent.objects.filter(history_id=top).update(state="delivered")  # that one went out already
    OrderStatusChange.objects.create(id=top + 5, order=order, status=Status.IN_PROGRESS, remains=80)
    events_collect()

    # when
    outcomes = deliver_due(now=timezone.now())

    # then: In progress before Completed, as they happened
    assert outcomes == ["delivered", "delivered"]
    assert receiver.order_statuses[order.pk] == ["In progress", "Completed"]


def test_a_url_removed_during_an_attempt_is_no_error(reseller, endpoint, receiver, monkeypatch):
    from webhooks import sender
    from webhooks.services import endpoint_remove

    history(sent_order(reseller), Status.COMPLETED, remains=0)
    events_collect()
    event = WebhookEvent.objects.get()
    real_post = sender.post

    def post_then_remove(**kwargs):
        outcome = real_post(**kwargs)
        endpoint_remove(customer=reseller, endpoint_id=endpoint.pk)  # the customer clicks Remove meanwhile
        return outcome

    monkeypatch.setattr(sender, "post", post_then_remove)
    assert event_deliver(event_id=event.pk) == "delivered"
    assert not WebhookEvent.objects.exists() and len(receiver.events) == 1
