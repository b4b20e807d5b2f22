"""The upstream simulator, spoken to over real HTTP exactly as a v2 client would."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from providers import ordertypes as ot
from providers.simulator import DEMO_KEY, Simulator
from providers.simulator.state import price
from tests.simulator_fixtures import sample_fields


def call(sim: Simulator, key: str = DEMO_KEY, **params) -> object:
    return requests.post(sim.url, data={"key": key, **params}, timeout=5).json()


def place(sim: Simulator, service, key: str = DEMO_KEY, **overrides) -> str:
    answer = call(sim, key, action="add", service=service.service_id, **{**sample_fields(service), **overrides})
    assert "order" in answer, answer
    return str(answer["order"])


def default_service(sim: Simulator, **where):
    return sim.catalogue.first_of_type(ot.DEFAULT, **where)


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


# Subscriptions -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "error"), [
    ({"delay": "7"}, "Incorrect delay"),
    ({"min": "1000", "max": "900"}, "Min must not exceed max"),
    ({"expiry": "31/02/2030"}, "Incorrect expiry date"),
    ({"expiry": "01/01/2001"}, "Incorrect expiry date"),
    ({"posts": "0"}, "Incorrect posts"),
])
def test_subscription_input_is_validated(simulator, change, error):
    service = simulator.catalogue.first_of_type(ot.SUBSCRIPTIONS)
    fields = {**sample_fields(service), **change}
    assert call(simulator, action="add", service=service.service_id, **fields) == {"error": error}


def test_a_subscription_delivers_posts_charges_per_post_and_completes(simulator):
    # given
    simulator.add_key("subscriber", 100)
    service = simulator.catalogue.first_of_type(ot.SUBSCRIPTIONS)
    order_id = place(simulator, service, "subscriber", posts="3", old_posts="1")
    hour = 3600 / simulator.config.subscription_posts_per_hour

    # when
    first = call(simulator, "subscriber", action="status", order=order_id)
    simulator.advance(hour * 2 + 1)
    middle = call(simulator, "subscriber", action="status", order=order_id)
    simulator.advance(hour * 10)
    last = call(simulator, "subscriber", action="status", order=order_id)

    # then
    assert (first["status"], first["posts"]) == ("Active", "1")
    assert (middle["status"], middle["posts"]) == ("Active", "3")
    assert (last["status"], last["posts"]) == ("Completed", "4")
    assert Decimal(first["charge"]) < Decimal(middle["charge"]) < Decimal(last["charge"])
    assert simulator.balance_of("subscriber") == Decimal(100) - Decimal(last["charge"])


def test_a_subscription_expires_and_can_be_canceled(simulator):
    # given
    service = simulator.catalogue.first_of_type(ot.SUBSCRIPTIONS)
    tomorrow = (date.today() + timedelta(days=1)).strftime("%d/%m/%Y")
    expiring = place(simulator, service, posts="", expiry=tomorrow)
    canceled = place(simulator, service, posts="")

    # when
    assert call(simulator, action="cancel", orders=canceled)[0]["cancel"] == 1
    simulator.advance(3 * 86_400)

    # then
    assert call(simulator, action="status", order=expiring)["status"] == "Expired"
    assert call(simulator, action="status", order=canceled)["status"] == "Canceled"


def test_a_subscription_pauses_when_the_balance_runs_out(simulator):
    # given: a balance for exactly one post
    service = simulator.catalogue.first_of_type(ot.SUBSCRIPTIONS)
    per_post = price(service.rate, service.min)
    simulator.add_key("thin", per_post)
    order_id = place(simulator, service, "thin", min=str(service.min), max=str(service.min), posts="")
    hour = 3600 / simulator.config.subscription_posts_per_hour

    # when
    simulator.advance(hour * 2 + 1)
    paused = call(simulator, "thin", action="status", order=order_id)
    simulator.add_key("thin", 100)  # topped up
    resumed = call(simulator, "thin", action="status", order=order_id)

    # then
    assert (paused["status"], paused["posts"], paused["charge"]) == ("Paused", "1", str(per_post))
    assert (resumed["status"], resumed["posts"]) == ("Active", "2")


# Refills and cancels -----------------------------------------------------------------------------------------

def test_refill_is_possible_after_completion_and_progresses(simulator):
    # given
    simulator.config.set(partial_share=0, canceled_share=0, refill_rejected_share=0)
    order_id = place(simulator, default_service(simulator, refill=True))
    assert call(simulator, action="refill", order=order_id) == {"error": "Order is not completed"}
    simulator.advance(10_000)

    # when
    refill_id = call(simulator, action="refill", order=order_id)["refill"]
    statuses = []
    for _ in range(3):
        statuses.append(call(simulator, action="refill_status", refills=refill_id)[0]["status"])
        simulator.advance(simulator.config.refill_seconds * 0.6)

    # then
    assert statuses == ["Pending", "In progress", "Completed"]
    assert call(simulator, action="refill_status", refill="404") == {"error": "Refill not found"}


def test_refill_is_refused_where_the_service_has_none(simulator):
    order_id = place(simulator, default_service(simulator, refill=False))
    simulator.advance(10_000)
    assert call(simulator, action="refill", orders=order_id) == [
        {"order": int(order_id), "refill": {"error": "Refill is disabled for this service"}}]


def test_a_cancel_ends_the_order_partial_with_a_refund(simulator):
    # given
    simulator.config.set(partial_share=0, canceled_share=0, cancel_ids=True)
    simulator.add_key("buyer", 100)
    service = default_service(simulator, cancel=True)
    order_id = place(simulator, service, "buyer", quantity=str(service.min * 10))
    order = simulator.order(order_id)
    simulator.advance(order.pending_for + order.duration / 2)  # about half delivered

    # when
    answer = call(simulator, "buyer", action="cancel", orders=order_id)
    cancel_id = str(answer[0]["cancel"])
    pending = call(simulator, "buyer", action="cancel", cancels=cancel_id)
    again = call(simulator, "buyer", action="cancel", orders=order_id)
    simulator.advance(simulator.config.cancel_seconds)
    done = call(simulator, "buyer", action="cancel", cancels=f"{cancel_id},777")
    status = call(simulator, "buyer", action="status", order=order_id)

    # then
    assert answer[0]["type"] == "order"
    assert again[0]["cancel"] == {"error": "Cancellation request was sent earlier"}
    assert pending == [{"cancel": int(cancel_id), "status": "Pending"}]
    assert done == [{"cancel": int(cancel_id), "status": "Completed"},
                    {"cancel": 777, "status": {"error": "Cancel not found"}}]
    assert status["status"] == "Partial"
    remains = int(status["remains"])
    assert 0 < remains < order.quantity
    assert simulator.balance_of("buyer") == Decimal(100) - order.charge + price(service.rate, remains)


def test_a_cancel_before_delivery_refunds_everything(simulator):
    # given
    simulator.config.set(partial_share=0, canceled_share=0, cancel_seconds=5)  # effective while still Pending
    simulator.add_key("buyer", 100)
    order_id = place(simulator, default_service(simulator, cancel=True), "buyer")

    # when
    assert call(simulator, "buyer", action="cancel", order=order_id) == {"cancel": 1}
    simulator.advance(simulator.config.cancel_seconds)

    # then
    assert call(simulator, "buyer", action="status", order=order_id)["status"] == "Canceled"
    assert simulator.balance_of("buyer") == Decimal(100)


# Bookkeeping and the command ---------------------------------------------------------------------------------

def test_requests_are_counted_per_action(simulator):
    call(simulator, action="balance")
    call(simulator, action="status", orders="1,2")
    call(simulator, action="status", order="1")
    call(simulator, action="cancel", cancels="1")
    assert simulator.request_counts == {"balance": 1, "status": 2, "cancels": 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_run_simulator_command_serves_keys_with_balances():
    # given
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_simulator", "--port", str(port), "--key", "k1", "--balance", "7.5",
         "--spelling-variants"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v2"
        answer = None
        for _ in range(100):  # wait for it to listen
            try:
                answer = requests.post(url, data={"key": "k1", "action": "balance"}, timeout=2).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        demo = requests.post(url, data={"key": DEMO_KEY, "action": "balance"}, timeout=2).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    # then
    assert answer == {"balance": "7.50000", "currency": "USD"}
    assert Decimal(demo["balance"]) > 0
