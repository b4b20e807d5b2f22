"""The upstream simulator over real HTTP: subscriptions, refills, cancels, and its operator command."""

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
from providers.simulator import DEMO_KEY
from providers.simulator.state import price
from tests.providers.sim_calls import call, default_service, place
from tests.simulator_fixtures import sample_fields

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
