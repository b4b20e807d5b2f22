"""The upstream simulator, spoken to over real HTTP exactly as a v2 client would: catalogue, input, orders."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from providers import ordertypes as ot
from providers.simulator import DEMO_KEY, Simulator
from providers.simulator.state import price
from tests.providers.sim_calls import call, default_service, place
from tests.simulator_fixtures import sample_fields

# Catalogue ---------------------------------------------------------------------------------------------------

def test_catalogue_is_realistic_and_covers_every_type(simulator):
    # when
    services = call(simulator, action="services")

    # then
    assert len(services) >= 2000
    assert len({s["category"] for s in services}) >= 40
    assert {s["type"] for s in services} == set(ot.ORDER_TYPES)
    assert {"Instagram Followers [Real]", "YouTube Views", "TikTok Likes"} <= {s["category"] for s in services}
    first = services[0]
    assert isinstance(first["rate"], str) and Decimal(first["rate"]) > 0
    assert int(first["min"]) <= int(first["max"])
    assert any(s["dripfeed"] for s in services) and any(s["refill"] for s in services)


def test_catalogue_is_deterministic_under_a_seed():
    # given
    same_a, same_b, other = Simulator(seed=5), Simulator(seed=5), Simulator(seed=6)

    # then
    assert same_a.catalogue.all() == same_b.catalogue.all()
    assert same_a.catalogue.all() != other.catalogue.all()


def test_catalogue_mutations_show_in_the_services_answer(simulator):
    # given
    simulator.config.services_count = 5000

    # when
    simulator.catalogue.set_rate(3, "12.34")
    simulator.catalogue.remove(4)
    added = simulator.catalogue.add(name="Brand new", category="Kick Followers", rate="2.5", min=5, max=50)
    services = {s["service"]: s for s in call(simulator, action="services")}

    # then
    assert len(services) == 5000
    assert services[3]["rate"] == "12.34"
    assert 4 not in services
    assert services[added.service_id]["name"] == "Brand new"


# Validation --------------------------------------------------------------------------------------------------

def test_a_bad_key_is_refused(simulator):
    assert call(simulator, "nope", action="balance") == {"error": "Invalid API key"}


@pytest.mark.parametrize("type_name", sorted(ot.ORDER_TYPES))
def test_every_type_is_accepted_and_charged(simulator, type_name):
    # given
    simulator.add_key("buyer", 500)
    service = simulator.catalogue.first_of_type(type_name)

    # when
    order_id = place(simulator, service, "buyer")

    # then
    order = simulator.order(order_id)
    assert simulator.accepted_adds[-1]["order"] == order_id
    assert simulator.accepted_adds[-1]["service"] == service.service_id
    if type_name == ot.SUBSCRIPTIONS:
        assert order.charge == 0  # charged per post as posts come
    else:
        expected = service.rate.quantize(Decimal("0.00001")) if ot.ORDER_TYPES[type_name].per_package \
            else price(service.rate, order.quantity)
        assert order.charge == expected
    assert simulator.balance_of("buyer") == Decimal(500) - order.charge


@pytest.mark.parametrize("type_name", sorted(ot.ORDER_TYPES))
def test_every_required_field_is_checked(simulator, type_name):
    # given
    service = simulator.catalogue.first_of_type(type_name)
    fields = sample_fields(service)

    for name in ot.ORDER_TYPES[type_name].required:
        # when
        partial = {k: v for k, v in fields.items() if k != name}
        answer = call(simulator, action="add", service=service.service_id, **partial)

        # then
        assert answer == {"error": f"Missing required field: {name}"}
    assert simulator.accepted_adds == []


@pytest.mark.parametrize(("change", "error"), [
    ({"service": "99999999"}, "Incorrect service ID"),
    ({"link": "not a link at all"}, "Incorrect link"),
    ({"quantity": "1"}, "Quantity less than minimal"),
    ({"quantity": "999999999"}, "Quantity more than maximum"),
    ({"quantity": "many"}, "Incorrect quantity"),
])
def test_bad_input_gets_a_clear_error_and_nothing_is_charged(simulator, change, error):
    # given
    simulator.add_key("buyer", 100)
    service = default_service(simulator, min=50)
    fields = {"service": service.service_id, **sample_fields(service), **change}

    # when
    answer = call(simulator, "buyer", action="add", **fields)

    # then
    assert answer["error"].startswith(error)
    assert simulator.balance_of("buyer") == 100
    assert simulator.accepted_adds == []


def test_not_enough_funds(simulator):
    # given
    simulator.add_key("poor", "0.001")
    service = default_service(simulator)

    # when
    answer = call(simulator, "poor", action="add", service=service.service_id, link="https://x.com/a",
                  quantity=service.max)

    # then
    assert answer == {"error": "Not enough funds on balance"}
    assert simulator.balance_of("poor") == Decimal("0.001")


def test_keys_never_see_each_others_orders(simulator):
    # given
    simulator.add_key("alice", 100)
    simulator.add_key("bob", 100)
    order_id = place(simulator, default_service(simulator, refill=True, cancel=True), "alice")

    # then
    assert call(simulator, "bob", action="status", order=order_id) == {"error": "Incorrect order ID"}
    assert call(simulator, "bob", action="status", orders=order_id) == {order_id: {"error": "Incorrect order ID"}}
    assert call(simulator, "bob", action="cancel", orders=order_id)[0]["cancel"] == {"error": "Incorrect order ID"}
    assert call(simulator, "bob", action="refill", order=order_id) == {"error": "Incorrect order ID"}
    assert "status" in call(simulator, "alice", action="status", order=order_id)


def test_more_than_100_ids_are_refused(simulator):
    ids = ",".join(str(n) for n in range(101))
    assert call(simulator, action="status", orders=ids) == {"error": "Maximum 100 IDs per request"}


@pytest.mark.parametrize("transport", ["form", "json", "get"])
def test_all_three_transports_are_accepted(simulator, transport):
    # given
    payload = {"key": DEMO_KEY, "action": "balance"}

    # when
    if transport == "form":
        answer = requests.post(simulator.url, data=payload, timeout=5).json()
    elif transport == "json":
        answer = requests.post(simulator.url, json=payload, timeout=5).json()
    else:
        answer = requests.get(simulator.url, params=payload, timeout=5).json()

    # then
    assert answer == {"balance": "1000000.00000", "currency": "USD"}
    assert simulator.transports == {transport: 1}


# Progress ----------------------------------------------------------------------------------------------------

def test_an_order_moves_from_pending_to_completed(simulator):
    # given
    simulator.config.set(partial_share=0, canceled_share=0)
    order_id = place(simulator, default_service(simulator), quantity="1000")
    seen = []

    # when
    for _ in range(12):
        seen.append(call(simulator, action="status", order=order_id))
        simulator.advance(60)

    # then
    statuses = [s["status"] for s in seen]
    assert statuses[0] == "Pending"
    assert "In progress" in statuses
    assert statuses[-1] == "Completed"
    remains = [int(s["remains"]) for s in seen]
    assert remains == sorted(remains, reverse=True)
    assert remains[0] == 1000 and remains[-1] == 0
    assert int(seen[-1]["start_count"]) >= 0


def test_fates_follow_the_configured_shares_and_the_seed():
    def fates(seed: int) -> list[str]:
        sim = Simulator(speed=0, seed=seed, partial_share=0.3, canceled_share=0.2)
        service = default_service(sim)
        account = sim.state.accounts[DEMO_KEY]
        orders = [sim.state.create_order(account=account, service=service, fields={}, quantity=100,
                                         charge=Decimal("1")) for _ in range(200)]
        sim.advance(10_000)
        return [sim.order_status(o.order_id) for o in orders]

    first = fates(9)
    assert first == fates(9)
    assert {"Completed", "Partial", "Canceled"} == set(first)
    assert 20 < first.count("Partial") < 100


def test_partial_refunds_the_undelivered_part_and_canceled_all(simulator):
    # given
    simulator.add_key("buyer", 100)
    service = default_service(simulator)
    partial = place(simulator, service, "buyer", quantity="1000")
    canceled = place(simulator, service, "buyer", quantity="1000")
    charge = price(service.rate, 1000)

    # when
    simulator.force(partial, status="Partial", remains=157)
    simulator.force(canceled, status="Canceled")

    # then
    assert call(simulator, "buyer", action="status", order=partial)["remains"] == "157"
    assert simulator.balance_of("buyer") == Decimal(100) - charge + price(service.rate, 157)


def test_drip_feed_counts_runs(simulator):
    # given
    service = default_service(simulator, dripfeed=True)
    plain = default_service(simulator, dripfeed=False)

    # when
    order_id = place(simulator, service, quantity=str(service.min), runs="3", interval="10")
    refused = call(simulator, action="add", service=plain.service_id, link="https://x.com/a",
                   quantity=plain.min, runs=3, interval=10)

    # then
    assert refused == {"error": "Drip-feed is not available for this service"}
    assert simulator.order(order_id).quantity == service.min * 3
    assert call(simulator, action="status", order=order_id)["runs"] == "0"
    simulator.advance(simulator.config.pending_seconds * 2 + 601)
    assert call(simulator, action="status", order=order_id)["runs"] == "2"
    simulator.advance(100_000)
    assert call(simulator, action="status", order=order_id) | {"charge": "-"} == {
        "charge": "-", "start_count": str(simulator.order(order_id).start_count), "status": "Completed",
        "remains": "0", "runs": "3", "currency": "USD"}
