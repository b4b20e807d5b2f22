"""Failover at send time: a refusal about the provider moves the order to the service's alternate, which
delivers it, with one upstream order in all; a refusal about the order, an unknown outcome or a loss-making
alternate do not move it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import LedgerEntry
from orders.models import Order, OrderAttempt, Stage, Status
from orders.pipeline import send
from orders.pipeline.cycle import pipeline_cycle
from orders.services import refills_request
from providers.models import Provider
from tests.orders.failover_support import QUANTITY, backup_simulator, make_pair  # noqa: F401 - fixture
from tests.orders.pipeline_support import ledger_checked_after, ledger_ok  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db


def _later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


@pytest.fixture
def pair(simulator, backup_simulator):  # noqa: F811 - the fixture above
    return make_pair(simulator, backup_simulator)


def _reaches_backup(pair, order: Order, outcome: str) -> Order:
    """The order moved to the backup, is sent there, and is delivered and polled there."""
    assert outcome == send.MOVED
    order.refresh_from_db()
    assert (order.stage, order.status, order.provider_id) == (Stage.PAID, Status.PENDING, pair.backup.pk)
    assert order.upstream_service == pair.entry.upstream_service_id and order.refunded == 0

    assert send.order_send(order_id=order.pk) == send.SENT
    order.refresh_from_db()
    backup_add = pair.backup_sim.accepted_adds[0]
    assert order.upstream_id == backup_add["order"]
    assert backup_add["service"] == int(pair.entry.upstream_service_id)
    assert backup_add["request_id"] == f"panel-{order.pk}"
    assert pair.adds() == 1
    return order


def test_primary_short_of_funds_fails_over_to_the_alternate(pair):
    # given: our balance at the primary is empty
    pair.primary_sim.state.accounts[pair.primary.api_key].balance = Decimal("0")
    order = pair.place()

    # when
    outcome = send.order_send(order_id=order.pk)

    # then: at the backup, one upstream order in all, the move recorded
    order = _reaches_backup(pair, order, outcome)
    attempt = OrderAttempt.objects.get(order=order)
    assert (attempt.provider_id, attempt.moved_to_id) == (pair.primary.pk, pair.backup.pk)
    assert attempt.upstream_service == pair.service.upstream_service_id
    assert attempt.reason == "Refused: Not enough funds on balance"

    # when the backup completes it, polling asks the backup
    pair.backup_sim.force(order.upstream_id, status="Partial", remains=100)
    pipeline_cycle()

    # then: Partial, refunded at our price, nothing ever asked of the primary but the one add
    order.refresh_from_db()
    assert (order.stage, order.status, order.remains) == (Stage.FINAL, Status.PARTIAL, 100)
    assert order.refunded == Decimal("0.20000")
    assert pair.primary_sim.request_counts["status"] == 0 and pair.primary_sim.request_counts["add"] == 1
    ledger_ok()


def test_primary_dropped_the_service_fails_over_and_refills_go_to_the_alternate(pair):
    # given: the primary no longer lists the service
    pair.primary_sim.catalogue.remove(pair.service.upstream_service_id)
    order = pair.place()

    # when
    outcome = send.order_send(order_id=order.pk)

    # then
    order = _reaches_backup(pair, order, outcome)
    assert OrderAttempt.objects.get(order=order).reason == "Refused: Incorrect service ID"

    # when it completes and the customer asks for a refill
    pair.backup_sim.force(order.upstream_id, status="Completed")
    pipeline_cycle()
    refill = refills_request(customer=pair.customer, order_ids=[order.pk])[order.pk]
    pipeline_cycle()

    # then the refill went to the backup
    refill.refresh_from_db()
    assert refill.upstream_id and pair.backup_sim.request_counts["refill"] == 1
    assert pair.primary_sim.request_counts["refill"] == 0
    ledger_ok()


def test_hold_policy_gives_way_to_an_alternate(pair):
    # given: the primary would hold orders while our balance there is short
    Provider.objects.filter(pk=pair.primary.pk).update(hold_on_low_upstream_balance=True)
    pair.primary_sim.state.accounts[pair.primary.api_key].balance = Decimal("0")
    order = pair.place()

    # when / then
    _reaches_backup(pair, order, send.order_send(order_id=order.pk))


def test_a_refusal_about_the_order_fails_and_refunds_without_failover(pair):
    # given: a link both panels refuse (one our checks let through)
    order = pair.place()
    Order.objects.filter(pk=order.pk).update(link="x")

    # when
    outcome = send.order_send(order_id=order.pk)

    # then
    order.refresh_from_db()
    assert outcome == send.FAILED and order.provider_id == pair.primary.pk
    assert (order.stage, order.status, order.refunded) == (Stage.FAILED, Status.CANCELED, order.charge)
    assert not OrderAttempt.objects.exists() and pair.backup_sim.request_counts["add"] == 0
    ledger_ok()


def test_an_unknown_outcome_never_fails_over(pair):
    # given: the primary takes the order, then hangs past our timeout
    Provider.objects.filter(pk=pair.primary.pk).update(timeout_seconds=Decimal("0.5"))
    pair.primary_sim.config.set(hang_after_accept=True, hang_seconds=3)
    order = pair.place()

    # when: sent, then the primary's circuit opens and time passes
    outcome = send.order_send(order_id=order.pk)
    Provider.objects.filter(pk=pair.primary.pk).update(is_active=False)
    pipeline_cycle(now=_later(86400))
    pipeline_cycle(now=_later(2 * 86400))

    # then: unknown at the primary, for the admin; the backup was never asked
    order.refresh_from_db()
    assert outcome == send.UNKNOWN
    assert (order.stage, order.provider_id, order.may_exist_upstream) == (Stage.UNKNOWN, pair.primary.pk, True)
    assert not OrderAttempt.objects.exists()
    assert pair.backup_sim.request_counts["add"] == 0 and pair.adds() == 1


def test_the_margin_guard_refuses_a_loss_making_alternate(simulator, backup_simulator, settings):  # noqa: F811
    # given: the backup costs 1.95 per 1000, the customer paid 2.00, and 5 % is the least margin
    settings.FAILOVER_MIN_MARGIN_PERCENT = Decimal("5")
    pair = make_pair(simulator, backup_simulator, backup_rate="1.95")
    pair.primary_sim.state.accounts[pair.primary.api_key].balance = Decimal("0")
    order = pair.place()

    # when the primary refuses for its funds
    outcome = send.order_send(order_id=order.pk)

    # then: not moved; failed and refunded as without alternates, and the admin reads why
    order.refresh_from_db()
    assert outcome == send.FAILED and order.provider_id == pair.primary.pk
    assert order.refunded == order.charge
    assert "Backup: margin 2.56% under 5%" in order.last_error
    assert pair.backup_sim.request_counts["add"] == 0 and not OrderAttempt.objects.exists()
    ledger_ok()

    # and with a 2 % minimum the same alternate is taken
    settings.FAILOVER_MIN_MARGIN_PERCENT = Decimal("2")
    again = pair.place()
    assert send.order_send(order_id=again.pk) == send.MOVED


def test_an_alternate_that_does_not_take_the_quantity_is_passed_over(pair):
    pair.entry.__class__.objects.filter(pk=pair.entry.pk).update(max=500)
    pair.primary_sim.state.accounts[pair.primary.api_key].balance = Decimal("0")
    order = pair.place()

    outcome = send.order_send(order_id=order.pk)

    order.refresh_from_db()
    assert outcome == send.FAILED
    assert f"Backup: takes 10..500, not {QUANTITY}" in order.last_error
    assert LedgerEntry.objects.filter(order=order, cause=LedgerEntry.Cause.FAILED_SEND).count() == 1


def test_the_orders_admin_page_lists_the_providers_tried(pair, admin_client):
    pair.primary_sim.catalogue.remove(pair.service.upstream_service_id)
    order = pair.place()
    send.order_send(order_id=order.pk)

    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Providers tried" in html and "Refused: Incorrect service ID" in html and "Backup" in html
