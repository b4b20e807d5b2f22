"""/api/v2's short middleware chain: what it keeps of the full stack, and what it costs in queries."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation

from orders.models import Order
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Frame-Options",
                    "Strict-Transport-Security")


def _policy(header: str) -> set[str]:
    """A CSP header as its set of directives (django-csp does not keep their order from one process to the next)."""
    return {directive.strip() for directive in header.split(";") if directive.strip()}


def test_api_answers_carry_the_security_headers_of_the_full_stack(settings):
    # given: HTTPS as in production, so that HSTS is sent too
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_CONTENT_TYPE_NOSNIFF = True
    customer = CustomerFactory(funds="1")
    client = Client()

    # when: the same client asks the API (fast path) and /health (the full middleware stack)
    api = client.post("/api/v2", {"key": customer.raw_api_key, "action": "balance"}, secure=True)
    full = client.get("/health", secure=True)

    # then
    assert answer_of(api)["balance"] == "1.00"
    for name in SECURITY_HEADERS:
        assert api.headers.get(name) == full.headers.get(name), name
        assert api.headers.get(name), name
    assert _policy(api["Content-Security-Policy"]) == _policy(full["Content-Security-Policy"])
    assert api["Content-Length"] == str(len(api.content))


def test_an_error_answered_before_the_view_keeps_the_headers(client):
    # when: a Host header outside ALLOWED_HOSTS
    response = client.post("/api/v2", {"action": "balance"}, HTTP_HOST="evil.example")

    # then
    assert answer_of(response, status=400) == {"error": "Incorrect request"}
    assert response["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in response


def test_plain_http_is_still_redirected_to_https(settings):
    # given
    settings.SECURE_SSL_REDIRECT = True

    # when
    response = Client().post("/api/v2", {"action": "balance"})

    # then
    assert response.status_code == 301 and response["Location"].startswith("https://")


def test_the_api_sets_no_cookie_and_ignores_a_session(client, admin_user):
    # given: a browser signed in to the admin calls the API with its session cookie
    client.force_login(admin_user)
    customer = CustomerFactory(funds="2")

    # when
    response = client.post("/api/v2", {"key": customer.raw_api_key, "action": "balance"})

    # then
    assert answer_of(response)["balance"] == "2.00"
    assert not response.cookies and "Cookie" not in response.get("Vary", "")


def test_the_api_speaks_english_whatever_the_thread_or_the_client_asks(client):
    # given: the thread served an Indonesian page last, and the client prefers Indonesian
    translation.activate("id")
    try:
        # when
        response = client.post("/api/v2", {"key": "x" * 32, "action": "balance"}, HTTP_ACCEPT_LANGUAGE="id")
    finally:
        translation.deactivate()

    # then
    assert answer_of(response) == {"error": "Invalid API key"}


def test_other_paths_keep_the_full_stack(client):
    # when: a page of the site, not the API
    response = client.get("/login/")

    # then: the browser's middleware ran (CSRF cookie, language)
    assert response.status_code == 200
    assert "csrftoken" in response.cookies and "Accept-Language" in response.get("Vary", "")


# --- queries per request, once the key is known -----------------------------------------------------------


def _warm(client, key: str) -> None:
    """A first request looks the key up in the database; the cache serves it afterwards."""
    assert "balance" in answer_of(api_call(client, "form", {"key": key, "action": "balance"}))


def test_status_of_100_orders_is_one_query(client, django_assert_num_queries):
    # given
    customer = CustomerFactory()
    service = ServiceFactory()
    ids = [OrderFactory(customer=customer, service=service, quantity=100).pk for _ in range(100)]
    _warm(client, customer.raw_api_key)

    # when
    with django_assert_num_queries(1):
        answer = answer_of(api_call(client, "form", {"key": customer.raw_api_key, "action": "status",
                                                     "orders": ",".join(map(str, ids))}))

    # then
    assert sorted(answer) == sorted(map(str, ids))
    assert all(value["status"] == "Pending" and value["remains"] == "100" for value in answer.values())


def test_services_is_no_query_once_its_body_is_cached(client, django_assert_num_queries):
    # given
    customer = CustomerFactory()
    ServiceFactory.create_batch(30)
    _warm(client, customer.raw_api_key)
    first = answer_of(api_call(client, "get", {"key": customer.raw_api_key, "action": "services"}))

    # when
    with django_assert_num_queries(0):
        again = answer_of(api_call(client, "get", {"key": customer.raw_api_key, "action": "services"}))

    # then
    assert again == first and len(again) == 30


def test_add_is_two_statements_once_the_key_is_known(client, django_assert_num_queries,
                                                     django_capture_on_commit_callbacks, settings):
    # given
    customer = CustomerFactory(funds="100")
    service = ServiceFactory()
    _warm(client, customer.raw_api_key)
    # PostgreSQL: the service, then the order, its charge and its ledger row in one statement. Elsewhere: the
    # service, the customer's lock, the order, the balance, the ledger row, and the savepoint the test's own
    # transaction turns the order's transaction into (BEGIN and COMMIT outside a test).
    statements = 2 if settings.USES_POSTGRES else 5 + 2

    # when
    with django_capture_on_commit_callbacks(execute=False), django_assert_num_queries(statements):
        answer = answer_of(api_call(client, "form", {"key": customer.raw_api_key, "action": "add",
                                                     "service": service.pk, "link": "https://x.com/a",
                                                     "quantity": 100}))

    # then
    assert Order.objects.get(pk=answer["order"]).charge == service.rate / 10


def test_balance_reads_the_balance_fresh_with_a_cached_key(client, django_assert_num_queries):
    # given: the key is cached, then the balance moves
    customer = CustomerFactory(funds="3")
    _warm(client, customer.raw_api_key)
    from accounts.services import balance_deposit
    balance_deposit(customer_id=customer.pk, amount="4", note="top-up")

    # when
    with django_assert_num_queries(1):
        answer = answer_of(api_call(client, "form", {"key": customer.raw_api_key, "action": "balance"}))

    # then
    assert answer["balance"] == "7.00"
