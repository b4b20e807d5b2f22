"""Sending orders upstream against the simulator: every fault, and never twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import LedgerEntry
from orders.models import Order, Stage, Status
from orders.pipeline import send
from orders.pipeline.cycle import pipeline_cycle
from orders.pipeline.fields import upstream_fields
from providers import ordertypes as ot
from providers.health import client_for
from providers.models import Provider
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(simulator, simulator_provider):
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    return place(customer, service, link="https://x.test/a", quantity=service.min * 10)


def _later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_send_success_records_upstream_id(simulator, order):
    # when
    outcome = send.order_send(order_id=order.pk)

    # then
    order.refresh_from_db()
    assert outcome == send.SENT
    assert order.stage == Stage.SENT and order.sent_at and order.send_attempts == 1
    assert [a["order"] for a in simulator.accepted_adds] == [order.upstream_id]


def test_claim_is_won_once(order):
    assert send.order_claim_for_sending(order_id=order.pk)
    assert not send.order_claim_for_sending(order_id=order.pk)
    assert send.order_send(order_id=order.pk) == send.NOT_CLAIMED


def test_rate_limited_add_keeps_order_paid_with_backoff(simulator, order):
    # given: the upstream answers 429 with Retry-After
    simulator.config.set(rate_limit_share=1.0, retry_after="7")

    # when
    outcome = send.order_send(order_id=order.pk)

    # then: still paid and charged, retried later, the provider paused for at least Retry-After
    order.refresh_from_db()
    provider = Provider.objects.get(pk=order.provider_id)
    assert outcome == send.RETRY
    assert order.stage == Stage.PAID and order.status == Status.PENDING and order.refunded == 0
    assert order.next_attempt_at >= timezone.now() + dt.timedelta(seconds=6)
    assert provider.consecutive_failures == 1
    assert provider.retry_after_until > timezone.now() + dt.timedelta(seconds=5)
    assert simulator.accepted_adds == []

    # when: the limit is gone, but the order is not due yet; then it is
    simulator.config.set(rate_limit_share=0.0)
    assert send.order_send(order_id=order.pk) == send.NOT_CLAIMED
    assert send.order_send(order_id=order.pk, now=_later(3600)) == send.SENT

    # then: one upstream order, the provider healthy again
    provider.refresh_from_db()
    assert len(simulator.accepted_adds) == 1 and provider.consecutive_failures == 0
    ledger_ok()


def test_refused_connection_keeps_order_paid(simulator, order):
    # given: nothing listens at the provider's address
    Provider.objects.filter(pk=order.provider_id).update(api_url="http://127.0.0.1:9/api/v2")

    # when
    outcome = send.order_send(order_id=order.pk)

    # then
    order.refresh_from_db()
    assert outcome == send.RETRY and order.stage == Stage.PAID and order.next_attempt_at > timezone.now()
    assert order.last_error.startswith("Unavailable")


def test_html_502_on_add_is_unknown_never_resent(simulator, order):
    # given: a proxy answers 502 with an HTML page; the panel behind it may have taken the order
    simulator.config.set(html_502_share=1.0)

    # when
    outcome = send.order_send(order_id=order.pk)
    simulator.config.set(html_502_share=0.0)
    pipeline_cycle(now=_later(86400))

    # then
    order.refresh_from_db()
    assert outcome == send.UNKNOWN and order.stage == Stage.UNKNOWN
    assert simulator.request_counts["add"] == 1


def test_backoff_grows_and_is_capped(settings):
    settings.PIPELINE_SEND_BACKOFF_SECONDS = 30
    settings.PIPELINE_SEND_BACKOFF_MAX_SECONDS = 600
    assert [send.conf.send_backoff_seconds(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [30, 60, 120, 240, 480, 600, 600]


def test_hang_before_answer_is_unknown_and_never_resent(simulator, order):
    # given: the upstream hangs past the client's timeout after receiving the add
    Provider.objects.filter(pk=order.provider_id).update(timeout_seconds=Decimal("0.5"))
    simulator.config.set(hang_after_accept=True, hang_seconds=3)

    # when
    outcome = send.order_send(order_id=order.pk)
    simulator.config.set(hang_after_accept=False)
    pipeline_cycle()
    pipeline_cycle(now=_later(86400))

    # then: unknown for the admin; the upstream has exactly one order
    order.refresh_from_db()
    assert outcome == send.UNKNOWN
    assert order.stage == Stage.UNKNOWN and order.attention and order.send_attempts == 1
    assert len(simulator.accepted_adds) == 1
    ledger_ok()


def test_hang_fault_on_add_is_unknown_not_retried(simulator, order):
    Provider.objects.filter(pk=order.provider_id).update(timeout_seconds=Decimal("0.5"))
    simulator.config.set(hang_share=1.0, hang_seconds=3)

    outcome = send.order_send(order_id=order.pk)
    simulator.config.set(hang_share=0.0)
    pipeline_cycle()

    order.refresh_from_db()
    assert outcome == send.UNKNOWN and order.stage == Stage.UNKNOWN
    assert simulator.request_counts["add"] == 1


def test_worker_killed_between_add_and_save_is_swept_to_unknown(simulator, order):
    # given: a worker claimed the order and the upstream accepted the add, then the worker died
    assert send.order_claim_for_sending(order_id=order.pk)
    order.refresh_from_db()
    client_for(order.provider).add(service_id=order.service.upstream_service_id, fields=upstream_fields(order))
    Order.objects.filter(pk=order.pk).update(sending_started_at=timezone.now() - dt.timedelta(hours=1))

    # when: cycles run (the sweeper, then more)
    summary = pipeline_cycle()
    pipeline_cycle()

    # then: unknown, not sent a second time
    order.refresh_from_db()
    assert summary["stale_to_unknown"] == 1
    assert order.stage == Stage.UNKNOWN
    assert len(simulator.accepted_adds) == 1


def test_rejected_fails_and_refunds_in_full(simulator, order):
    # given: the upstream no longer knows the service
    order.service.__class__.objects.filter(pk=order.service_id).update(upstream_service_id="99999999")

    # when
    outcome = send.order_send(order_id=order.pk)
    send.order_send(order_id=order.pk)

    # then
    order.refresh_from_db()
    assert outcome == send.FAILED
    assert order.stage == Stage.FAILED and order.status == Status.CANCELED
    assert order.refunded == order.charge and order.last_error
    assert LedgerEntry.objects.filter(order=order, cause=LedgerEntry.Cause.FAILED_SEND).count() == 1
    ledger_ok()


@pytest.mark.parametrize("hold", [True, False])
def test_low_upstream_balance_holds_or_fails_by_policy(simulator, simulator_provider, order, hold):
    # given: our account at the upstream is empty
    simulator.state.accounts[simulator_provider.api_key].balance = Decimal("0")
    simulator_provider.hold_on_low_upstream_balance = hold
    simulator_provider.save()

    # when
    outcome = send.order_send(order_id=order.pk)

    # then
    order.refresh_from_db()
    if hold:
        assert outcome == send.HELD
        assert order.stage == Stage.PAID and order.refunded == 0 and order.next_attempt_at > timezone.now()
        assert "balance" in order.last_error
    else:
        assert outcome == send.FAILED
        assert order.stage == Stage.FAILED and order.refunded == order.charge
    ledger_ok()


def test_circuit_opens_after_repeated_unavailable_and_skips_provider(simulator, simulator_provider, settings):
    # given: five paid orders and a provider nobody answers for
    settings.PIPELINE_CIRCUIT_FAILURES = 3
    settings.PIPELINE_CIRCUIT_COOLDOWN_SECONDS = 3600
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    ids = [place(customer, service, link=f"https://x.test/{n}", quantity=service.min).pk for n in range(5)]
    Provider.objects.filter(pk=simulator_provider.pk).update(api_url="http://127.0.0.1:9/api/v2")

    # when
    first = pipeline_cycle()
    second = pipeline_cycle(now=_later(600))  # orders due again, circuit still open

    # then: three failures opened the circuit; the other orders were not tried; all still paid
    simulator_provider.refresh_from_db()
    assert first["send"] == {send.RETRY: 3, send.NOT_CLAIMED: 2}
    assert simulator_provider.circuit_open_until > timezone.now()
    assert second["send"] == {} and second["providers"] == {}
    assert Order.objects.filter(pk__in=ids, stage=Stage.PAID).count() == 5

    # when: the cool-down has passed and the upstream answers again
    Provider.objects.filter(pk=simulator_provider.pk).update(api_url=simulator.url)
    summary = pipeline_cycle(now=_later(3600 * 3))

    # then
    assert summary["send"] == {send.SENT: 5}
    assert len(simulator.accepted_adds) == 5
    ledger_ok()
