"""A subscription through a chain: B (this process) → A (another process of this code) → the simulator.

Per-post charges and the refund of posts not delivered happen at both panels, each at its own price,
and both ledgers stay whole.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from orders.models import Order, Stage, Status
from orders.pipeline.cycle import pipeline_cycle
from orders.services import cancels_request, order_create
from providers import ordertypes as ot
from providers.client import ProviderClient
from tests.factories import CustomerFactory, ProviderFactory, ServiceFactory
from tests.orders.test_chaining import panel_a  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

POST = 600  # simulated seconds between posts


def test_subscriptions_at_b_are_charged_per_post_and_refunded_through_a(panel_a, simulator):  # noqa: F811
    # given: a subscription service at the simulator (1.00 per 1000), sold by A at +25 % and by B at 3.00
    upstream = simulator.catalogue.add(name="Chained Auto Likes", category="Tests", rate="1.00",
                                       type=ot.SUBSCRIPTIONS, min=10, max=1000, cancel=True)
    panel_a.manage("sync_services", "--provider", "Simulator")
    provider = ProviderFactory(api_url=panel_a.url, api_key=panel_a.b_key, timeout_seconds=Decimal("10"))
    at_a = next(s for s in ProviderClient(provider).services() if s.name == upstream.name)
    assert at_a.rate == Decimal("1.25")
    service = ServiceFactory(provider=provider, upstream_service_id=at_a.service_id, type=ot.SUBSCRIPTIONS,
                             upstream_rate=at_a.rate, rate=Decimal("3.00"), min=10, max=1000, cancel=True)
    customer = CustomerFactory(funds="100")
    fields = {"username": "natgeo", "min": 100, "max": 200, "delay": 0}
    prepaid = order_create(customer=customer, service=service, data={**fields, "posts": 5})
    unlimited = order_create(customer=customer, service=service, data=fields)
    assert (prepaid.charge, unlimited.charge) == (Decimal("3"), Decimal("0"))  # 5 × 200 units at 3.00

    # when: B sends to A, A to the simulator; two posts appear; A, then B, poll
    pipeline_cycle()
    panel_a.manage("run_pipeline", "--once")
    assert len(simulator.accepted_adds) == 2
    simulator.advance(2 * POST + 100)
    panel_a.manage("run_pipeline", "--once")
    pipeline_cycle()

    # then: B charged its customer the two posts of the unlimited one, at B's price
    unlimited.refresh_from_db()
    assert (unlimited.status, unlimited.posts_done, unlimited.charge) == (Status.ACTIVE, 2, Decimal("1.2"))

    # when: the customer cancels both at B; the cancels travel B → A → simulator; the simulator stops
    cancels_request(customer=customer, order_ids=[prepaid.pk, unlimited.pk])
    pipeline_cycle()
    panel_a.manage("run_pipeline", "--once")
    simulator.advance(100_000)
    panel_a.manage("run_pipeline", "--once")
    pipeline_cycle()

    # then at B: both canceled after 2 posts; the prepaid one's 3 undelivered posts refunded at B's price
    prepaid.refresh_from_db()
    unlimited.refresh_from_db()
    assert (prepaid.stage, prepaid.status, prepaid.posts_done) == (Stage.FINAL, Status.CANCELED, 2)
    assert (unlimited.stage, unlimited.status, unlimited.posts_done) == (Stage.FINAL, Status.CANCELED, 2)
    assert prepaid.refunded == Decimal("1.8") and unlimited.refunded == 0
    customer.refresh_from_db()
    assert customer.balance == Decimal("100") - Decimal("3") + Decimal("1.8") - Decimal("1.2")
    call_command("check_ledger")

    # and at A: B's account paid the same posts at A's price (200 units at 1.25 = 0.25 each)
    assert ProviderClient(provider).balance().amount == Decimal("500") - 5 * Decimal("0.25") + 3 * Decimal(
        "0.25") - 2 * Decimal("0.25")
    assert Order.objects.get(pk=prepaid.pk).upstream_charge == Decimal("0.5")
    assert Order.objects.get(pk=unlimited.pk).upstream_charge == Decimal("0.5")
    panel_a.manage("check_ledger")
