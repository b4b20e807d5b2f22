"""The client against every answer quirk the simulator can switch on (one switch per test)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from providers import ordertypes as ot
from providers.client import CancelAccepted, ItemError, OrderStatus, ProviderClient, Rejected, RequestStatus
from providers.simulator.state import price
from tests.factories import ProviderFactory
from tests.simulator_fixtures import sample_fields

pytestmark = pytest.mark.django_db


def place(sim, provider, service=None, **overrides) -> str:
    service = service or sim.catalogue.first_of_type(ot.DEFAULT, cancel=True, refill=True)
    return ProviderClient(provider).add(service_id=str(service.service_id),
                                        fields={**sample_fields(service), **overrides})


def orders_in_every_state(sim, provider) -> dict[str, str]:
    """Order id → the canonical status the simulator holds for it, covering all five order statuses."""
    sim.config.set(partial_share=0, canceled_share=0)
    ids = [place(sim, provider, quantity=1000) for _ in range(5)]
    sim.advance(sim.config.pending_seconds * 2)  # all started; the first two are forced final
    sim.force(ids[0], status="Partial", remains=157)
    sim.force(ids[1], status="Canceled")
    sim.force(ids[2], status="Completed")
    fresh = place(sim, provider)
    return {order_id: sim.order_status(order_id) for order_id in [*ids, fresh]}


def test_numbers_as_numbers(simulator, simulator_provider):
    # given
    simulator.config.numbers_as_numbers = True
    simulator.catalogue.set_rate(1, "0.9")
    service = simulator.catalogue.first_of_type(ot.DEFAULT)
    order_id = place(simulator, simulator_provider, service, quantity=service.min * 10)
    simulator.force(order_id, status="Partial", remains=7)
    client = ProviderClient(simulator_provider)

    # when
    services = {s.service_id: s for s in client.services()}
    status = client.status(order_id)
    many = client.statuses([order_id])
    balance = client.balance()

    # then
    assert services["1"].rate == Decimal("0.9")
    assert services[str(service.service_id)].min == service.min
    order = simulator.order(order_id)
    # a Partial answers its charge less the refund, what the order cost
    assert (status.charge, status.remains, status.start_count) == (order.charge - order.refunded, 7, order.start_count)
    assert many[order_id] == status
    assert balance.amount == simulator.balance_of(simulator_provider.api_key)


def test_spelling_variants_are_normalised_and_the_raw_word_kept(simulator, simulator_provider):
    # given
    expected = orders_in_every_state(simulator, simulator_provider)
    simulator.config.spelling_variants = True

    # when
    result = ProviderClient(simulator_provider).statuses(list(expected))

    # then
    assert {order_id: r.status for order_id, r in result.items()} == expected
    raw = {r.raw_status for r in result.values()}
    assert raw - {"Pending", "In progress", "Completed", "Partial", "Canceled"}, "no variant was exercised"


@pytest.mark.parametrize(("words", "canonical", "expected"), [
    ({"Canceled": "Refunded"}, "Canceled", "Canceled"),
    ({"Partial": "Fail"}, "Partial", None),
    ({"Completed": "Error"}, "Completed", None),
    ({"Pending": "Queued"}, "Pending", None),
])
def test_other_words_map_or_stay_unknown_never_pending(simulator, simulator_provider, words, canonical, expected):
    # given
    statuses = orders_in_every_state(simulator, simulator_provider)
    order_id = next(i for i, s in statuses.items() if s == canonical)
    simulator.config.status_words = words

    # when
    result = ProviderClient(simulator_provider).statuses([order_id])[order_id]
    single = ProviderClient(simulator_provider).status(order_id)

    # then
    assert result.status == single.status == expected
    assert result.raw_status == words[canonical]


def test_non_numeric_ids(simulator, simulator_provider):
    # given
    simulator.config.set(non_numeric_ids=True, partial_share=0, canceled_share=0, refill_rejected_share=0)
    client = ProviderClient(simulator_provider)

    # when
    order_id = place(simulator, simulator_provider)
    simulator.advance(100_000)
    status = client.statuses([order_id])[order_id]
    refill_id = client.refills([order_id])[order_id]
    refill_status = client.refill_status(refill_id)

    # then
    assert order_id.startswith("ord_")
    assert status.status == "Completed"
    assert refill_id.startswith("rf_")
    assert refill_status.status == "Pending"


def test_refill_status_with_type_instead_of_status(simulator, simulator_provider):
    # given
    simulator.config.set(refill_status_type_key=True, partial_share=0, canceled_share=0, refill_rejected_share=1)
    order_id = place(simulator, simulator_provider)
    simulator.advance(100_000)
    client = ProviderClient(simulator_provider)
    refill_id = client.refill(order_id)
    simulator.advance(simulator.config.refill_seconds)

    # when
    many = client.refill_statuses([refill_id])
    one = client.refill_status(refill_id)

    # then
    assert many == {refill_id: RequestStatus("Rejected", "Rejected")}
    assert one == RequestStatus("Rejected", "Rejected")


def test_cancel_falls_back_to_order_for_panels_that_take_only_one(simulator, simulator_provider):
    # given
    simulator.config.set(cancel_order_only=True, partial_share=0, canceled_share=0)
    first, second = place(simulator, simulator_provider), place(simulator, simulator_provider)
    client = ProviderClient(simulator_provider)

    # when
    result = client.cancel([first])
    with pytest.raises(Rejected, match="Incorrect request"):
        client.cancel([first, second])
    unknown = client.cancel(["123456789"])

    # then
    assert result == {first: CancelAccepted(cancel_id=None, type=None)}
    assert unknown == {"123456789": ItemError("Incorrect order ID")}
    simulator.advance(simulator.config.cancel_seconds)
    assert simulator.order_status(first) in ("Canceled", "Partial")
    assert simulator.order_status(second) not in ("Canceled", "Partial")


def test_errors_as_a_list(simulator, simulator_provider):
    simulator.config.errors_as_list = True
    with pytest.raises(Rejected, match="Incorrect order ID"):
        ProviderClient(simulator_provider).status("777")


def test_per_id_errors_as_bare_strings(simulator, simulator_provider):
    # given
    simulator.config.set(item_errors_as_strings=True, cancel_ids=True)
    order_id = place(simulator, simulator_provider)
    client = ProviderClient(simulator_provider)

    # when
    statuses = client.statuses([order_id, "9999"])
    refills = client.refills(["9999"])
    cancels = client.cancel(["9999"])
    refill_statuses = client.refill_statuses(["9999"])

    # then
    assert isinstance(statuses[order_id], OrderStatus)
    assert statuses["9999"] == ItemError("Incorrect order ID")
    assert refills == {"9999": ItemError("Incorrect order ID")}
    assert cancels == {"9999": ItemError("Incorrect order ID")}
    assert refill_statuses == {"9999": ItemError("Refill not found")}


def test_a_success_key_on_good_answers_changes_nothing(simulator, simulator_provider):
    # given
    simulator.config.success_key = True
    client = ProviderClient(simulator_provider)

    # when
    order_id = place(simulator, simulator_provider)
    statuses = client.statuses([order_id])
    balance = client.balance()

    # then
    assert order_id == simulator.accepted_adds[-1]["order"]
    assert list(statuses) == [order_id] and statuses[order_id].status == "Pending"
    assert balance.amount == simulator.balance_of(simulator_provider.api_key)


def test_an_empty_catalogue_sent_as_an_object(simulator, simulator_provider):
    simulator.config.empty_catalogue_as_object = True
    simulator.catalogue.clear()
    assert ProviderClient(simulator_provider).services() == []


def test_missing_fields(simulator, simulator_provider):
    # given
    simulator.config.missing_fields = True
    order_id = place(simulator, simulator_provider)
    client = ProviderClient(simulator_provider)

    # then
    assert not any(s.dripfeed for s in client.services())
    assert client.status(order_id).currency is None
    assert client.balance().currency is None


@pytest.mark.parametrize(("style", "expected"), [("unknown", None), ("missing", None), ("negative", 0)])
def test_remains_unknown_missing_or_negative(simulator, simulator_provider, style, expected):
    # given
    simulator.config.set(remains_style=style, partial_share=0, canceled_share=0)
    order_id = place(simulator, simulator_provider)
    simulator.advance(100_000)

    # when
    status = ProviderClient(simulator_provider).statuses([order_id])[order_id]

    # then
    assert status.status == "Completed"
    assert status.remains == expected


def test_subscription_statuses_and_posts(simulator, simulator_provider):
    # given
    service = simulator.catalogue.first_of_type(ot.SUBSCRIPTIONS)
    active, completed, canceled = (place(simulator, simulator_provider, service, posts=p) for p in ("", "1", ""))
    simulator.advance(3600 / simulator.config.subscription_posts_per_hour * 3)
    ProviderClient(simulator_provider).cancel([canceled])
    simulator.advance(simulator.config.cancel_seconds)

    # when
    result = ProviderClient(simulator_provider).statuses([active, completed, canceled])

    # then
    assert (result[active].status, result[active].posts_done) == ("Active", 3)
    assert (result[completed].status, result[completed].posts_done) == ("Completed", 1)
    assert result[canceled].status == "Canceled"
    assert result[active].charge > 0


def test_drip_feed_runs_are_reported(simulator, simulator_provider):
    # given
    service = simulator.catalogue.first_of_type(ot.DEFAULT, dripfeed=True)
    order_id = place(simulator, simulator_provider, service, runs=4, interval=15)
    simulator.advance(simulator.config.pending_seconds * 2 + 15 * 60)

    # when
    status = ProviderClient(simulator_provider).status(order_id)

    # then
    assert status.status == "In progress"
    assert status.runs_done == 2


def test_quirks_over_the_json_and_get_transports(simulator):
    # given: the same quirks over the JSON body and the query string
    simulator.add_key("quirky", 100)
    simulator.config.set(numbers_as_numbers=True, spelling_variants=True, non_numeric_ids=True)
    results = {}
    for request_format in ("json", "get"):
        provider = ProviderFactory(api_url=simulator.url, api_key="quirky", request_format=request_format)

        # when
        order_id = place(simulator, provider)
        results[request_format] = ProviderClient(provider).statuses([order_id])[order_id]

    # then
    assert all(r.status == "Pending" for r in results.values())
    assert simulator.transports == {"json": 2, "get": 2}


def test_subscription_paused_and_expired(simulator, simulator_provider):
    # given
    service = simulator.catalogue.first_of_type(ot.SUBSCRIPTIONS)
    tomorrow = (date.today() + timedelta(days=1)).strftime("%d/%m/%Y")
    expiring = place(simulator, simulator_provider, service, posts="", expiry=tomorrow)
    simulator.add_key("thin", price(service.rate, service.min))
    thin = ProviderFactory(api_url=simulator.url, api_key="thin")
    paused = place(simulator, thin, service, min=service.min, max=service.min, posts="")
    simulator.advance(3 * 86_400)

    # when
    expired_status = ProviderClient(simulator_provider).status(expiring)
    paused_status = ProviderClient(thin).status(paused)

    # then
    assert (expired_status.status, paused_status.status) == ("Expired", "Paused")
    assert paused_status.posts_done == 1
