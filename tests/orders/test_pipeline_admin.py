"""Admin resolutions of failed and unknown orders, the dashboard, and the health checks they show."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import LedgerEntry
from orders.models import Order, Stage, Status
from orders.pipeline import send
from orders.pipeline.cycle import pipeline_cycle
from providers import health
from providers import ordertypes as ot
from providers.models import Provider
from providers.pricing import format_money
from tests.factories import CustomerFactory
from tests.orders.pipeline_support import (
    ledger_checked_after,  # noqa: F401 - autouse
    ledger_ok,
    place,
    sim_service,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    client.force_login(user)
    return client


@pytest.fixture
def unknown_order(simulator, simulator_provider):
    """An order whose add was accepted upstream but whose answer never came."""
    simulator.config.set(hang_after_accept=True, hang_seconds=3, partial_share=0, canceled_share=0)
    Provider.objects.filter(pk=simulator_provider.pk).update(timeout_seconds=Decimal("0.5"))
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    assert send.order_send(order_id=order.pk) == send.UNKNOWN
    simulator.config.set(hang_after_accept=False)
    Provider.objects.filter(pk=simulator_provider.pk).update(timeout_seconds=Decimal("5"), consecutive_failures=0)
    return Order.objects.get(pk=order.pk)


def _changelist():
    return reverse("admin:orders_order_changelist")


def test_set_upstream_id_through_the_form_then_polled_to_final(admin_client_, simulator, unknown_order):
    # given: the admin finds the order upstream
    upstream_id = simulator.accepted_adds[0]["order"]

    # when: the action shows the form, then the form is submitted
    form = admin_client_.post(_changelist(), {"action": "set_upstream_id", "_selected_action": [unknown_order.pk]})
    assert form.status_code == 200 and b"Upstream order id" in form.content
    done = admin_client_.post(_changelist(), {"action": "set_upstream_id", "_selected_action": [unknown_order.pk],
                                              "apply": "1", "upstream_id": upstream_id,
                                              "reason": "found it at the provider"})
    assert done.status_code == 302

    # then: sent, polled to the end, never added again
    unknown_order.refresh_from_db()
    assert (unknown_order.stage, unknown_order.upstream_id) == (Stage.SENT, upstream_id)
    simulator.advance(10_000)
    pipeline_cycle()
    unknown_order.refresh_from_db()
    assert unknown_order.status == Status.COMPLETED and len(simulator.accepted_adds) == 1
    ledger_ok()


def test_send_again_puts_an_unknown_order_back_to_paid(admin_client_, simulator, unknown_order):
    admin_client_.post(_changelist(), {"action": "send_again", "_selected_action": [unknown_order.pk],
                                       "apply": "1", "reason": "not at the provider"})
    unknown_order.refresh_from_db()
    assert unknown_order.stage == Stage.PAID
    pipeline_cycle()
    unknown_order.refresh_from_db()
    assert unknown_order.stage == Stage.SENT and len(simulator.accepted_adds) == 2  # the admin's decision


def test_cancel_and_refund_is_final_and_refunds_once(admin_client_, simulator, unknown_order):
    for _ in range(2):
        admin_client_.post(_changelist(), {"action": "cancel_and_refund", "_selected_action": [unknown_order.pk],
                                           "apply": "1", "reason": "customer asked"})
    unknown_order.refresh_from_db()
    assert (unknown_order.stage, unknown_order.status) == (Stage.FINAL, Status.CANCELED)
    assert unknown_order.refunded == unknown_order.charge
    assert LedgerEntry.objects.filter(order=unknown_order, kind=LedgerEntry.Kind.REFUND).count() == 1
    ledger_ok()


def test_send_again_refuses_a_refunded_failed_order(admin_client_, simulator, simulator_provider):
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    service.__class__.objects.filter(pk=service.pk).update(upstream_service_id="99999999")
    assert send.order_send(order_id=order.pk) == send.FAILED

    admin_client_.post(_changelist(), {"action": "send_again", "_selected_action": [order.pk],
                                       "apply": "1", "reason": "try again"})

    order.refresh_from_db()
    assert order.stage == Stage.FAILED


def test_changelist_filters_and_profit(admin_client_, simulator, simulator_provider):
    simulator.config.set(partial_share=0, canceled_share=0)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    pipeline_cycle()
    simulator.advance(10_000)
    pipeline_cycle()
    order.refresh_from_db()
    profit = order.charge - order.refunded - order.upstream_charge

    page = admin_client_.get(_changelist(), {"stage": "final", "provider__id__exact": simulator_provider.pk,
                                             "customer__id__exact": customer.pk, "status": "Completed"})

    assert page.status_code == 200
    assert str(order.pk).encode() in page.content and str(profit).encode() in page.content


def test_dashboard_shows_status_money_and_health(admin_client_, simulator, simulator_provider):
    # given: one completed order, and a provider whose balance is below its threshold
    simulator.config.set(partial_share=0, canceled_share=0)
    Provider.objects.filter(pk=simulator_provider.pk).update(low_balance_threshold=Decimal("5000"))
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    order = place(customer, service, link="https://x.test/a", quantity=service.min)
    pipeline_cycle()
    simulator.advance(10_000)
    pipeline_cycle()
    order.refresh_from_db()

    # when
    page = admin_client_.get(reverse("admin:orders_dashboard"))

    # then
    simulator_provider.refresh_from_db()
    assert simulator_provider.last_error.startswith(health.LOW_BALANCE_PREFIX)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Completed" in body and simulator_provider.name in body and "LOW" in body
    assert format_money(order.charge - order.upstream_charge) in body  # shown as every amount is
