"""How /api/v2 is reached: paths, encodings, CSRF, rate limiting, query counts, and the docs page."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from freezegun import freeze_time

from orders.models import Order
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/"])
def test_both_paths_answer_without_redirect(client, encoding, path):
    # given
    customer = CustomerFactory(funds="5")

    # when
    response = api_call(client, encoding, {"key": customer.raw_api_key, "action": "balance"}, path=path)

    # then
    assert answer_of(response) == {"balance": "5.00", "currency": "USD"}


def test_csrf_is_not_required():
    # given
    customer = CustomerFactory(funds="5")
    client = Client(enforce_csrf_checks=True)

    # when
    response = client.post("/api/v2", {"key": customer.raw_api_key, "action": "balance"})  # multipart

    # then
    assert answer_of(response)["balance"] == "5.00"


@pytest.mark.parametrize("orders", ["{a}%2C{b}", "{a}%2c{b}", " {a} , {b} ,"])
def test_encoded_commas_and_spaces_in_id_lists(api, orders):
    # given
    customer = CustomerFactory(funds="5")
    service = ServiceFactory()
    a = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100)["order"]
    b = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/b", quantity=100)["order"]

    # when
    answer = api(customer.raw_api_key, "status", orders=orders.format(a=a, b=b))

    # then
    assert list(answer) == [str(a), str(b)]


def test_raw_encoded_comma_in_a_query_string(client):
    # given
    customer = CustomerFactory(funds="5")
    service = ServiceFactory()
    ids = [Order.objects.create(customer=customer, service=service, provider=service.provider, rate=1).pk
           for _ in range(2)]

    # when
    response = client.get(f"/api/v2?key={customer.raw_api_key}&action=status&orders={ids[0]}%2C{ids[1]}")

    # then
    assert list(answer_of(response)) == [str(ids[0]), str(ids[1])]


def test_json_body_with_numbers_and_lists(client):
    # given
    customer = CustomerFactory(funds="5")
    service = ServiceFactory(type="Custom Comments", min=1, max=10, rate=Decimal("100"))
    body = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
            "comments": ["one", "two"]}

    # when
    order_id = answer_of(client.post("/api/v2", json.dumps(body), content_type="application/json"))["order"]
    status = answer_of(client.post("/api/v2", json.dumps(
        {"key": customer.raw_api_key, "action": "status", "orders": [order_id]}), content_type="application/json"))

    # then
    assert Order.objects.get(pk=order_id).comments == "one\ntwo"
    assert status[str(order_id)]["remains"] == "2"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"key"'])
def test_malformed_json_body(client, body):
    # when
    response = client.post("/api/v2", body, content_type="application/json")

    # then
    assert answer_of(response) == {"error": "Incorrect request"}


def test_key_in_query_string_and_fields_in_form_body(client):
    # given
    customer = CustomerFactory(funds="7")

    # when
    response = client.post(f"/api/v2?key={customer.raw_api_key}", "action=balance",
                           content_type="application/x-www-form-urlencoded")

    # then
    assert answer_of(response)["balance"] == "7.00"


def test_rate_limit_answers_429_with_retry_after(client, encoding, settings):
    # given a burst of 3 in a 3-second window
    settings.API_RATE_LIMIT_PER_SECOND = 1
    settings.API_RATE_LIMIT_BURST = 3
    customer, other = CustomerFactory(), CustomerFactory()
    params = {"key": customer.raw_api_key, "action": "balance"}

    with freeze_time("2026-01-01 00:00:00.5"):
        # when
        allowed = [answer_of(api_call(client, encoding, params)) for _ in range(3)]
        refused = api_call(client, encoding, params)
        other_answer = answer_of(api_call(client, encoding, {"key": other.raw_api_key, "action": "balance"}))

    # then
    assert all("balance" in answer for answer in allowed)
    assert answer_of(refused, status=429) == {"error": "Too many requests"}
    assert refused["Retry-After"] == "3"
    assert "balance" in other_answer  # the limit is per key

    # and the next window admits the key again
    with freeze_time("2026-01-01 00:00:03.1"):
        assert "balance" in answer_of(api_call(client, encoding, params))


def test_status_of_100_orders_takes_at_most_3_queries(client, django_assert_max_num_queries):
    # given
    customer = CustomerFactory(funds="100")
    service = ServiceFactory()
    ids = [Order.objects.create(customer=customer, service=service, provider=service.provider, rate=1,
                                quantity=100).pk for _ in range(100)]
    params = {"key": customer.raw_api_key, "action": "status", "orders": ",".join(map(str, ids))}

    # when
    with django_assert_max_num_queries(3):
        answer = answer_of(api_call(client, "form", params))

    # then
    assert len(answer) == 100
    assert all(value["status"] == "Pending" for value in answer.values())


def test_add_takes_at_most_8_queries(client, django_assert_max_num_queries, django_capture_on_commit_callbacks):
    # given
    customer = CustomerFactory(funds="100")
    service = ServiceFactory()
    params = {"key": customer.raw_api_key, "action": "add", "service": service.pk, "link": "https://x.com/a",
              "quantity": 100}

    # when
    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(8):
        answer = answer_of(api_call(client, "form", params))

    # then
    assert Order.objects.filter(pk=answer["order"]).exists()


def test_services_is_one_query_after_the_key(client, django_assert_max_num_queries):
    # given
    customer = CustomerFactory()
    ServiceFactory.create_batch(30)

    # when
    with django_assert_max_num_queries(2):
        answer = answer_of(api_call(client, "get", {"key": customer.raw_api_key, "action": "services"}))

    # then
    assert len(answer) == 30


def test_docs_page_is_public_and_renders_every_order_type(client):
    from providers.ordertypes import FIELDS, ORDER_TYPES

    # when
    response = client.get("/api")

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "http://testserver/api/v2" in page
    for order_type in ORDER_TYPES.values():
        assert f"<h3>{order_type.name}</h3>" in page
    for name in ("answer_number", "hashtags", "groups", "media", "old_posts", "expiry"):
        assert f"<code>{name}</code>" in page
        assert FIELDS[name].help in page
    for action in ("services", "add", "status", "refill", "refill_status", "cancel", "balance"):
        assert f"<code>{action}</code>" in page
    assert "curl" in page and "import requests" in page and "curl_init" in page


def test_docs_page_shows_a_logged_in_customers_key_prefix(client):
    # given
    customer = CustomerFactory()
    client.force_login(customer.user)

    # when
    page = client.get("/api").content.decode()

    # then
    assert f"<code>{customer.raw_api_key[:8]}</code>" in page
    assert customer.raw_api_key not in page


def test_form_fields_under_a_wrong_content_type(client):
    # given
    customer = CustomerFactory(funds="3")

    # when
    response = client.post("/api/v2", f"key={customer.raw_api_key}&action=balance", content_type="text/plain")

    # then
    assert answer_of(response)["balance"] == "3.00"
