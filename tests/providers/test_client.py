"""The upstream client against the simulator over loopback HTTP: every action, in the common shape."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from providers import ordertypes as ot
from providers.client import (
    MAX_IDS_PER_REQUEST,
    Balance,
    CancelAccepted,
    ItemError,
    OrderStatus,
    ProviderClient,
    Rejected,
    RequestStatus,
    normalize_order_status,
    normalize_request_status,
)
from tests.factories import ProviderFactory
from tests.simulator_fixtures import sample_fields

pytestmark = pytest.mark.django_db


def client_for(provider) -> ProviderClient:
    return ProviderClient(provider)


def place(sim, provider, service, **overrides) -> str:
    return client_for(provider).add(service_id=str(service.service_id),
                                    fields={**sample_fields(service), **overrides})


def test_services_are_read_into_typed_records(simulator, simulator_provider):
    # when
    services = client_for(simulator_provider).services()

    # then
    assert len(services) == len(simulator.catalogue)
    first, expected = services[0], simulator.catalogue.all()[0]
    assert first.service_id == str(expected.service_id)
    assert (first.name, first.type, first.category) == (expected.name, expected.type, expected.category)
    assert (first.rate, first.min, first.max) == (expected.rate, expected.min, expected.max)
    assert (first.refill, first.cancel, first.dripfeed) == (expected.refill, expected.cancel, expected.dripfeed)
    assert {s.type for s in services} == set(ot.ORDER_TYPES)


def test_balance(simulator, simulator_provider):
    assert client_for(simulator_provider).balance() == Balance(Decimal("1000"), "USD")


@pytest.mark.parametrize("request_format", ["form", "json", "get"])
def test_each_request_format_reaches_the_upstream(simulator, request_format):
    # given
    simulator.add_key("fmt-key", 50)
    provider = ProviderFactory(api_url=simulator.url, api_key="fmt-key", request_format=request_format)
    service = simulator.catalogue.first_of_type(ot.MENTIONS_WITH_HASHTAGS)

    # when
    balance = client_for(provider).balance()
    order_id = client_for(provider).add(service_id=str(service.service_id), fields={
        "link": "https://instagram.com/p/abc", "quantity": service.min,
        "usernames": ["alice", "bob"], "hashtags": "#sun\n#sea"})

    # then
    assert balance.amount == Decimal("50")
    assert simulator.transports == {request_format: 2}
    assert simulator.accepted_adds[-1]["fields"]["usernames"] == "alice\nbob"
    assert simulator.order(order_id).key == "fmt-key"


@pytest.mark.parametrize("type_name", sorted(ot.ORDER_TYPES))
def test_add_sends_every_type_with_its_fields(simulator, simulator_provider, type_name):
    # given
    service = simulator.catalogue.first_of_type(type_name)
    fields = sample_fields(service)

    # when
    order_id = place(simulator, simulator_provider, service)

    # then
    assert isinstance(order_id, str)
    accepted = simulator.accepted_adds[-1]
    assert accepted["order"] == order_id
    assert accepted["service"] == service.service_id
    assert accepted["fields"] == {k: v for k, v in fields.items() if v}


def test_add_rejection_is_definite_and_nothing_is_created(simulator, simulator_provider):
    # given
    service = simulator.catalogue.first_of_type(ot.DEFAULT, min=50)

    # when
    with pytest.raises(Rejected) as caught:
        place(simulator, simulator_provider, service, quantity=1)

    # then
    assert caught.value.message == "Quantity less than minimal 50"
    assert simulator.accepted_adds == []


def test_status_of_one_order_follows_the_upstream(simulator, simulator_provider):
    # given
    simulator.config.set(partial_share=0, canceled_share=0)
    service = simulator.catalogue.first_of_type(ot.DEFAULT)
    order_id = place(simulator, simulator_provider, service, quantity=service.min * 10)
    client = client_for(simulator_provider)

    # when
    pending = client.status(order_id)
    simulator.advance(100_000)
    done = client.status(order_id)

    # then
    order = simulator.order(order_id)
    assert pending.status == "Pending" and pending.remains == order.quantity
    assert done == OrderStatus(status="Completed", raw_status="Completed", charge=order.charge,
                               start_count=order.start_count, remains=0, currency="USD")


def test_status_of_an_unknown_order_is_rejected(simulator, simulator_provider):
    with pytest.raises(Rejected, match="Incorrect order ID"):
        client_for(simulator_provider).status("424242")


def test_many_statuses_go_in_batches_of_100(simulator, simulator_provider):
    # given
    service = simulator.catalogue.first_of_type(ot.DEFAULT)
    real = [place(simulator, simulator_provider, service) for _ in range(3)]
    ids = real + [str(900_000 + n) for n in range(247)]
    simulator.request_counts.clear()

    # when
    result = client_for(simulator_provider).statuses(ids)

    # then
    assert MAX_IDS_PER_REQUEST == 100
    assert simulator.request_counts["status"] == 3
    assert set(result) == set(ids)
    assert all(isinstance(result[i], OrderStatus) and result[i].status == "Pending" for i in real)
    assert result["900000"] == ItemError("Incorrect order ID")


def test_refills_one_and_many(simulator, simulator_provider):
    # given
    simulator.config.set(partial_share=0, canceled_share=0, refill_rejected_share=0)
    service = simulator.catalogue.first_of_type(ot.DEFAULT, refill=True)
    first, second = (place(simulator, simulator_provider, service) for _ in range(2))
    simulator.advance(100_000)
    client = client_for(simulator_provider)

    # when
    one = client.refill(first)
    many = client.refills([second, "31337"])
    pending = client.refill_statuses([one, many[second], "555"])
    with pytest.raises(Rejected, match="Refill request already exists"):
        client.refill(first)
    simulator.advance(simulator.config.refill_seconds)
    single = client.refill_status(one)

    # then
    assert one != many[second]
    assert many["31337"] == ItemError("Incorrect order ID")
    assert pending == {one: RequestStatus("Pending", "Pending"), many[second]: RequestStatus("Pending", "Pending"),
                       "555": ItemError("Refill not found")}
    assert single == RequestStatus("Completed", "Completed")


def test_cancel_many_and_the_plain_answer(simulator, simulator_provider):
    # given
    simulator.config.set(partial_share=0, canceled_share=0)
    service = simulator.catalogue.first_of_type(ot.DEFAULT, cancel=True)
    order_id = place(simulator, simulator_provider, service)

    # when
    result = client_for(simulator_provider).cancel([order_id, "999999"])
    simulator.advance(simulator.config.cancel_seconds)

    # then
    assert result == {order_id: CancelAccepted(cancel_id=None, type=None),
                      "999999": ItemError("Incorrect order ID")}
    assert client_for(simulator_provider).status(order_id).status in ("Canceled", "Partial")


def test_cancel_with_ids_and_their_status(simulator, simulator_provider):
    # given
    simulator.config.set(partial_share=0, canceled_share=0, cancel_ids=True)
    service = simulator.catalogue.first_of_type(ot.DEFAULT, cancel=True)
    orders = [place(simulator, simulator_provider, service) for _ in range(2)]
    client = client_for(simulator_provider)

    # when
    accepted = client.cancel(orders)
    cancel_ids = [accepted[o].cancel_id for o in orders]
    before = client.cancel_statuses(cancel_ids + ["404"])
    simulator.advance(simulator.config.cancel_seconds)
    after = client.cancel_statuses(cancel_ids)

    # then
    assert all(accepted[o].type == "order" and accepted[o].cancel_id for o in orders)
    assert before == {cancel_ids[0]: RequestStatus("Pending", "Pending"),
                      cancel_ids[1]: RequestStatus("Pending", "Pending"), "404": ItemError("Cancel not found")}
    assert after == {c: RequestStatus("Completed", "Completed") for c in cancel_ids}
    assert simulator.request_counts["cancels"] == 2


def test_a_bad_key_is_rejected(simulator):
    provider = ProviderFactory(api_url=simulator.url, api_key="wrong-key")
    with pytest.raises(Rejected, match="Invalid API key"):
        client_for(provider).balance()


def test_clients_of_one_provider_share_a_pooled_session(simulator, simulator_provider):
    # when
    for _ in range(3):
        client = client_for(simulator_provider)
        client.balance()
        client.statuses(["1", "2"])

    # then: one keep-alive connection served all six requests
    assert client_for(simulator_provider)._session is client._session
    assert simulator.connections == 1


@pytest.mark.parametrize(("word", "expected"), [
    ("Pending", "Pending"), ("In progress", "In progress"), ("In Progress", "In progress"),
    ("inprogress", "In progress"), ("in_progress", "In progress"), ("IN PROGRESS", "In progress"),
    ("Processing", "Processing"), ("Completed", "Completed"), ("complete", "Completed"),
    ("Partial", "Partial"), ("Canceled", "Canceled"), ("Cancelled", "Canceled"), ("Refunded", "Canceled"),
    ("Active", "Active"), ("Paused", "Paused"), ("Expired", "Expired"),
    ("Fail", None), ("Failed", None), ("Error", None), ("Queued", None), ("", None), (None, None), (3, None),
])
def test_order_status_words(word, expected):
    assert normalize_order_status(word) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("Pending", "Pending"), ("In Progress", "In progress"), ("completed", "Completed"),
    ("Rejected", "Rejected"), ("REJECTED", "Rejected"), ("Awaiting", None), (None, None),
])
def test_request_status_words(word, expected):
    assert normalize_request_status(word) == expected


def test_one_info_line_per_request_without_the_key(simulator, simulator_provider, caplog):
    # given
    caplog.set_level(logging.INFO, logger="providers.client")

    # when
    client_for(simulator_provider).statuses([str(n) for n in range(150)])

    # then
    lines = [r.getMessage() for r in caplog.records if r.name == "providers.client"]
    assert len(lines) == 2
    assert f"provider={simulator_provider.name}" in lines[0]
    assert "upstream status" in lines[0] and "ids=100" in lines[0] and "ids=50" in lines[1]
    assert all("ms" in line for line in lines)
    assert simulator_provider.api_key not in caplog.text
