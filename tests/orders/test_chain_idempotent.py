"""A chain B → A → simulator where B's provider is A (this panel's own /api/v2, served by a live server) marked
"idempotent add". The first answer to B's `add` is lost on the way back (a proxy drops it): B sends the same
request_id again, A recognises it, and B's order ends with A's id. A holds one order for it, the simulator
one upstream order, and nothing is left unknown."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders.models import AddRequest, Order, Stage, Status
from orders.pipeline import send
from orders.pipeline.cycle import pipeline_cycle
from orders.services import order_create
from providers.client import close_sessions
from tests.factories import CustomerFactory, ProviderFactory, ServiceFactory
from tests.orders.dropping_proxy import DroppingProxy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _ledger_checked_after(db):
    yield
    call_command("check_ledger", stdout=io.StringIO())


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # Commits are real here: the sending tasks are run by the test itself, not published to a broker.
    monkeypatch.setattr("orders.services._enqueue_send", lambda order_id: None)
    monkeypatch.setattr("orders.failover._enqueue_send", lambda order_id: None)
    yield
    close_sessions()


def _later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


@pytest.fixture
def chain(live_server, simulator, simulator_provider):
    """Panel A sells a simulator service; B's provider is A, reached through a proxy that drops one answer."""
    upstream = simulator.catalogue.add(name="Chained followers", category="Followers", rate="1.00", min=10,
                                       max=10_000)
    sold_at_a = ServiceFactory(provider=simulator_provider, upstream_service_id=str(upstream.service_id),
                               upstream_rate=Decimal("1.00"), rate=Decimal("1.50"), min=10, max=10_000)
    b_at_a = CustomerFactory(funds="100")  # B's account at A
    proxy = DroppingProxy(live_server.url).start()
    a_for_b = ProviderFactory(name="Panel A", api_url=proxy.url("/api/v2"), api_key=b_at_a.raw_api_key,
                              timeout_seconds=Decimal("10"), idempotent_add=True)
    sold_at_b = ServiceFactory(provider=a_for_b, upstream_service_id=str(sold_at_a.pk), upstream_rate=Decimal("1.50"),
                               rate=Decimal("2.00"), min=10, max=10_000)
    yield {"proxy": proxy, "a_for_b": a_for_b, "sold_at_b": sold_at_b, "b_at_a": b_at_a}
    proxy.stop()


def test_a_lost_answer_is_resent_with_the_same_request_id_and_a_holds_one_order(chain, simulator):
    # given: an order placed at B
    customer = CustomerFactory(funds="50")
    order_b = order_create(customer=customer, service=chain["sold_at_b"],
                           data={"link": "https://instagram.com/p/chain", "quantity": 1000})

    # when: B sends it; A takes it, but the answer is lost on the way back
    first = send.order_send(order_id=order_b.pk)

    # then: B does not know, and will send it again (not unknown, not failed over)
    order_b.refresh_from_db()
    assert first == send.RESEND
    assert (order_b.stage, order_b.may_exist_upstream, order_b.upstream_id) == (Stage.PAID, True, "")
    assert chain["proxy"].dropped == 1
    at_a = Order.objects.get(customer=chain["b_at_a"])
    assert AddRequest.objects.get(order=at_a).request_id == f"panel-{order_b.pk}"

    # when: the backoff has passed and B sends it again
    second = send.order_send(order_id=order_b.pk, now=_later(3600))

    # then: B's order carries A's id; A still holds exactly one order for it
    order_b.refresh_from_db()
    assert second == send.SENT
    assert (order_b.stage, order_b.upstream_id) == (Stage.SENT, str(at_a.pk))
    assert Order.objects.filter(customer=chain["b_at_a"]).count() == 1
    assert chain["proxy"].adds == 2

    # when: A sends its order to the simulator, which completes it; both panels poll
    assert send.order_send(order_id=at_a.pk) == send.SENT
    at_a.refresh_from_db()
    simulator.force(at_a.upstream_id, status="Completed")
    pipeline_cycle(now=_later(3700))  # B's order was sent at the clock of its second try
    pipeline_cycle(now=_later(3800))

    # then: one upstream order at the simulator, both orders completed, none unknown, the books sound
    assert len(simulator.accepted_adds) == 1 and simulator.accepted_adds[0]["request_id"] == f"panel-{at_a.pk}"
    order_b.refresh_from_db()
    at_a.refresh_from_db()
    assert (at_a.status, order_b.status) == (Status.COMPLETED, Status.COMPLETED)
    assert not Order.objects.filter(stage=Stage.UNKNOWN).exists()
    call_command("check_ledger")


def test_without_idempotent_add_a_lost_answer_stays_unknown(chain):
    # given: the same chain, but A is not marked idempotent at B
    type(chain["a_for_b"]).objects.filter(pk=chain["a_for_b"].pk).update(idempotent_add=False)
    customer = CustomerFactory(funds="50")
    order_b = order_create(customer=customer, service=chain["sold_at_b"],
                           data={"link": "https://instagram.com/p/chain", "quantity": 1000})

    # when
    outcome = send.order_send(order_id=order_b.pk)
    pipeline_cycle(now=_later(86400))

    # then: unknown for the admin, never sent again; A holds the one order
    order_b.refresh_from_db()
    assert outcome == send.UNKNOWN and order_b.stage == Stage.UNKNOWN
    assert chain["proxy"].adds == 1
    assert Order.objects.filter(customer=chain["b_at_a"]).count() == 1
    call_command("check_ledger")


def test_resending_stops_at_the_cap_and_waits_for_an_admin(chain, settings):
    # given: every answer to B's add is lost
    settings.IDEMPOTENT_ADD_MAX_ATTEMPTS = 3
    chain["proxy"].drop = 100
    customer = CustomerFactory(funds="50")
    order_b = order_create(customer=customer, service=chain["sold_at_b"],
                           data={"link": "https://instagram.com/p/chain", "quantity": 1000})

    # when: sent as often as the cap allows, and more
    outcomes = [send.order_send(order_id=order_b.pk, now=_later(3600 * n)) for n in range(5)]

    # then: two resends, then unknown; A still holds one order
    order_b.refresh_from_db()
    assert outcomes == [send.RESEND, send.RESEND, send.UNKNOWN, send.NOT_CLAIMED, send.NOT_CLAIMED]
    assert order_b.stage == Stage.UNKNOWN and chain["proxy"].adds == 3
    assert Order.objects.filter(customer=chain["b_at_a"]).count() == 1
