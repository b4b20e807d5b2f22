"""The OpenAPI description of /api/v2: committed as generated, served, valid, and true to the real answers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import jsonschema_rs
import pytest
import schemathesis

from orders.models import Status
from panel.api.openapi import ANSWERS, COMMITTED_COPY, openapi_document, openapi_json
from providers.ordertypes import FIELDS, ORDER_TYPES, POLL, OrderType
from tests.api.conftest import api_call, documented
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory


def test_the_committed_copy_is_what_the_tables_generate():
    # given
    committed = COMMITTED_COPY.read_text(encoding="utf-8")

    # when
    generated = openapi_json()

    # then
    assert committed == generated, (
        f"{COMMITTED_COPY.name} is out of date: regenerate it with `DEBUG=1 .venv/bin/python -m panel.api.openapi`")


@pytest.mark.django_db
def test_served_at_api_openapi_json(client):
    # when
    response = client.get("/api/openapi.json")

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == COMMITTED_COPY.read_bytes()
    assert client.post("/api/openapi.json").status_code == 405


@pytest.mark.django_db
def test_the_docs_page_links_to_it(client):
    # when
    page = client.get("/api").content.decode()

    # then
    assert 'href="/api/openapi.json"' in page


def test_it_is_a_valid_openapi_3_1_document_with_one_operation():
    # given
    document = openapi_document()

    # when
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()

    # then
    assert [operation.ok().label for operation in schema.get_all_operations()] == ["POST /api/v2"]
    for name, component in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(component), name


def test_each_order_type_is_one_add_shape_with_its_fields():
    # given
    schemas = openapi_document()["components"]["schemas"]
    add_refs = [ref["$ref"].rsplit("/", 1)[-1] for ref in schemas["AddRequest"]["anyOf"]]

    # then
    assert len(add_refs) == len(ORDER_TYPES)
    for order_type, name in zip(ORDER_TYPES.values(), add_refs, strict=True):
        shape = schemas[name]
        assert shape["title"] == f"add: {order_type.name}"
        assert set(shape["required"]) == {"key", "action", "service", *order_type.required}
        assert set(shape["properties"]) == {"key", "action", "service", "request_id", *order_type.all_fields}
    assert schemas["FieldLink"]["maxLength"] == FIELDS["link"].max_length
    assert schemas["FieldComments"]["maxLength"] == FIELDS["comments"].max_length


def test_a_new_order_type_or_field_appears_without_touching_the_generator(monkeypatch):
    # given: the table `add` validates against gains a type, and a type gains an optional field
    monkeypatch.setitem(ORDER_TYPES, "Story Views", OrderType("Story Views", ("link", "quantity"), ("runs",)))
    monkeypatch.setitem(ORDER_TYPES, POLL, OrderType(POLL, ("link", "quantity", "answer_number"), ("runs",)))

    # when
    schemas = openapi_document()["components"]["schemas"]

    # then
    assert {"$ref": "#/components/schemas/AddStoryViews"} in schemas["AddRequest"]["anyOf"]
    assert schemas["AddStoryViews"]["required"] == ["key", "action", "service", "link", "quantity"]
    assert "runs" in schemas["AddPoll"]["properties"]
    assert "runs" not in schemas["AddPoll"]["required"]


def test_the_docs_page_examples_fit_the_answers_of_their_actions():
    # given
    from panel.api.docs import _actions

    # then
    for action in _actions("USD"):
        assert documented(ANSWERS[action.action]).is_valid(action.example), action.anchor
        assert documented("Answer").is_valid(action.example), action.anchor


def test_an_error_is_no_other_answer():
    # then
    for name in ("AddAnswer", "BalanceAnswer", "StatusAnswer", "CancelAnswer"):
        assert documented(name).is_valid({"error": "Incorrect request"})
        assert not documented(name).is_valid({"error": ""})
        assert not documented(name).is_valid({"error": "x", "order": 1})
    assert not documented("Error").is_valid("<html>Server Error</html>")


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["form", "json"])
def test_real_calls_fit_the_request_and_their_answers_the_answer_of_their_action(client, encoding, enqueued):
    # given: a customer with a finished order (refillable), a paid one (cancelable), and the services for them
    customer = CustomerFactory(funds="50")
    other = CustomerFactory(funds="5")
    default = ServiceFactory(type="Default", dripfeed=True)
    comments = ServiceFactory(type="Custom Comments")
    subscription = ServiceFactory(type="Subscriptions", min=10, max=100)
    done = OrderFactory(customer=customer, service=default, status=Status.COMPLETED, upstream_id="7")
    paid = OrderFactory(customer=customer, service=default)
    foreign = OrderFactory(customer=other, service=default)
    key = customer.raw_api_key
    ids = f"{done.pk},{paid.pk},{foreign.pk}"
    calls = [
        ("services", {}),
        ("balance", {}),
        ("add", {"service": default.pk, "link": "https://example.com/p", "quantity": 100}),
        ("add", {"service": default.pk, "link": "https://example.com/p", "quantity": 100, "runs": 2,
                 "interval": 10}),
        ("add", {"service": comments.pk, "link": "https://example.com/p", "comments": "nice\n" * 12}),
        ("add", {"service": subscription.pk, "username": "someone", "min": 10, "max": 20, "delay": 0,
                 "posts": 2, "expiry": "31/12/2099"}),
        ("add", {"service": default.pk, "link": "https://example.com/p", "quantity": 10**6}),
        ("status", {"order": done.pk}),
        ("status", {"order": foreign.pk}),
        ("status", {"orders": ids}),
        ("refill", {"order": done.pk}),
        ("refill", {"orders": ids}),
        ("refill_status", {"refill": 1}),
        ("refill_status", {"refills": "1,2,99"}),
        ("cancel", {"orders": ids}),
        ("cancel", {"order": paid.pk}),
        ("cancel", {"cancels": "1,2,99"}),
    ]
    request = documented("Request")
    assert not request.is_valid({"key": key, "action": "add", "service": "1", "link": "ftp://x", "quantity": "1"})

    def call(action: str, params: dict) -> object:
        body = {"key": key, "action": action, **params}
        sent = {name: str(value) for name, value in body.items()} if encoding == "form" else body
        # when
        response = api_call(client, encoding, body)
        answer = json.loads(response.content)

        # then
        assert request.is_valid(sent), (action, params)
        assert response.status_code == 200
        assert documented(ANSWERS[action]).is_valid(answer), (action, params, answer)
        assert documented("Answer").is_valid(answer)
        return answer

    placed = [answer["order"] for action, params in calls if "order" in (answer := call(action, params))
              and action == "add"]
    # the status of each new order: plain, drip-feed, list-priced and subscription
    assert len(placed) == 4
    for order_id in placed:
        call("status", {"order": order_id})
    call("status", {"orders": ",".join(map(str, placed))})
    # and a refusal before any action is an Error too
    refused = client.post("/api/v2", urlencode({"key": "nope", "action": "balance"}),
                          content_type="application/x-www-form-urlencoded")
    assert documented("Error").is_valid(json.loads(refused.content))
