"""The service's refill rules (a window after completion, a maximum per order, a cooldown), in one place
(orders.selectors.refill_refusal), as the API answers them and as the order pages show them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from orders import selectors
from orders.models import Refill, RequestStage, RequestStatus, Status
from tests.factories import CustomerFactory
from tests.orders.refill_rules_support import completed_order, refill_at, ruled_service

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _refusal(order, now=NOW):
    records = selectors.refill_records(order_ids=[order.pk])
    return selectors.refill_refusal(order, refills=records.get(order.pk), now=now)


def test_the_window_counts_days_from_completion():
    service = ruled_service(refill_days=30)
    order = completed_order(CustomerFactory(), service, finished_at=NOW - timedelta(days=30, seconds=1))
    recent = completed_order(order.customer, service, finished_at=NOW - timedelta(days=29))

    reason = _refusal(order)
    ended = (order.finished_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    assert reason == f"The refill period ended on {ended} UTC"
    assert _refusal(recent) is None


def test_the_maximum_counts_refills_that_were_not_refused():
    service = ruled_service(refill_max=2, refill_cooldown_hours=0)
    order = completed_order(CustomerFactory(), service, finished_at=NOW - timedelta(days=3))
    refill_at(order, NOW - timedelta(days=2))
    refill_at(order, NOW - timedelta(days=2), stage=RequestStage.FAILED, status=RequestStatus.REJECTED)
    refill_at(order, NOW - timedelta(days=1), status=RequestStatus.REJECTED)
    assert _refusal(order) is None

    refill_at(order, NOW - timedelta(hours=1))
    assert _refusal(order) == "Refill limit reached: 2 per order"


@pytest.mark.parametrize(("ago", "expected"), [
    (timedelta(hours=19), "Refill available in 5 h"),
    (timedelta(hours=18, minutes=30), "Refill available in 6 h"),  # a started hour counts whole
    (timedelta(hours=23, minutes=20), "Refill available in 40 min"),
    (timedelta(hours=24), None),
])
def test_the_cooldown_says_when_the_next_refill_is_possible(ago, expected):
    service = ruled_service(refill_max=None, refill_cooldown_hours=24)
    order = completed_order(CustomerFactory(), service, finished_at=NOW - timedelta(days=2))
    last = refill_at(order, NOW - ago, stage=RequestStage.FAILED, status=RequestStatus.REJECTED)  # any kind counts

    reason = _refusal(order)

    assert reason == expected
    if expected:
        last.refresh_from_db()
        assert reason.available_at == last.created_at + timedelta(hours=24)


def test_an_open_refill_and_the_order_state_come_first():
    service = ruled_service()
    order = completed_order(CustomerFactory(), service, finished_at=NOW - timedelta(days=40))
    refill_at(order, NOW - timedelta(hours=1), stage=RequestStage.SENT, status=RequestStatus.PENDING)
    assert _refusal(order) == selectors.REFILL_ALREADY_OPEN

    running = completed_order(order.customer, service, finished_at=NOW, status=Status.IN_PROGRESS)
    assert _refusal(running) == selectors.REFILL_NOT_YET


def test_without_rules_nothing_changes():
    service = ruled_service(refill_days=None, refill_max=None, refill_cooldown_hours=0)
    order = completed_order(CustomerFactory(), service, finished_at=NOW - timedelta(days=400))
    for _ in range(5):
        refill_at(order, NOW - timedelta(minutes=1))
    assert _refusal(order) is None


def test_reasons_read_in_indonesian_on_pages():
    service = ruled_service()
    order = completed_order(CustomerFactory(), service, finished_at=NOW - timedelta(days=1))
    refill_at(order, NOW - timedelta(hours=19))
    reason = _refusal(order)
    with translation.override("id"):
        assert reason.localized() == "Refill tersedia dalam 5 jam"
    assert str(reason) == "Refill available in 5 h"  # what the API answers, whatever the language


# --- Through the API --------------------------------------------------------------------------------


def _api(client, key, **params):
    response = client.post("/api/v2", {"key": key, **params})
    assert response.status_code == 200
    return response.json()


def test_the_api_answers_each_rule_as_a_v2_error(client):
    # given: one order per rule, and one that may be refilled
    customer = CustomerFactory(funds="10")
    now = timezone.now()
    service = ruled_service()
    cooling = completed_order(customer, service, finished_at=now - timedelta(days=2))
    refill_at(cooling, now - timedelta(hours=19))
    expired = completed_order(customer, service, finished_at=now - timedelta(days=31))
    maxed = completed_order(customer, service, finished_at=now - timedelta(days=5))
    refill_at(maxed, now - timedelta(days=4))
    refill_at(maxed, now - timedelta(days=3))
    fine = completed_order(customer, service, finished_at=now - timedelta(days=1))
    key = customer.raw_api_key

    # when
    one = _api(client, key, action="refill", order=cooling.pk)
    many = _api(client, key, action="refill", orders=f"{expired.pk},{maxed.pk},{fine.pk}")

    # then
    assert one == {"error": "Refill available in 5 h"}
    ended = (expired.finished_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    new = Refill.objects.get(order=fine)
    assert many == [
        {"order": expired.pk, "refill": {"error": f"The refill period ended on {ended} UTC"}},
        {"order": maxed.pk, "refill": {"error": "Refill limit reached: 2 per order"}},
        {"order": fine.pk, "refill": new.pk},
    ]
    assert Refill.objects.count() == 4  # the three before, and the one allowed

    # the API keeps English whatever the client's language
    again = client.post("/api/v2", {"key": key, "action": "refill", "order": cooling.pk}, HTTP_ACCEPT_LANGUAGE="id")
    assert again.json() == {"error": "Refill available in 5 h"}


# --- On the pages -----------------------------------------------------------------------------------


@pytest.fixture
def customer(db):
    return CustomerFactory(funds="10")


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer.user)
    return client


def test_the_orders_list_shows_when_or_why_not(signed_in, customer):
    now = timezone.now()
    service = ruled_service()
    cooling = completed_order(customer, service, finished_at=now - timedelta(days=2))
    refill_at(cooling, now - timedelta(hours=19))
    maxed = completed_order(customer, service, finished_at=now - timedelta(days=5))
    refill_at(maxed, now - timedelta(days=4))
    refill_at(maxed, now - timedelta(days=3))
    fine = completed_order(customer, service, finished_at=now - timedelta(days=1))

    page = signed_in.get(reverse("orders")).content.decode()

    def row(order) -> str:
        start = page.index(f'<tr data-order="{order.pk}">')
        return page[start:page.index("</tr>", start)]

    assert "Refill available in 5 h" in row(cooling) and 'data-action="refill"' not in row(cooling)
    assert "Refill limit reached: 2 per order" in row(maxed)
    assert 'data-action="refill"' in row(fine) and "data-refill-note" not in row(fine)


def test_the_orders_list_costs_the_same_queries_for_many_orders(signed_in, customer):
    service = ruled_service()
    now = timezone.now()

    def queries_with(count: int) -> int:
        for _ in range(count):
            order = completed_order(customer, service, finished_at=now - timedelta(days=1))
            refill_at(order, now - timedelta(hours=2))
        with CaptureQueriesContext(connection) as queries:
            assert signed_in.get(reverse("orders")).status_code == 200
        return len(queries)

    assert queries_with(2) == queries_with(30)


def test_the_order_page_shows_the_rules_and_the_state(signed_in, customer):
    now = timezone.now()
    order = completed_order(customer, ruled_service(), finished_at=now - timedelta(days=2))
    refill_at(order, now - timedelta(hours=19))

    page = signed_in.get(reverse("order_detail", args=[order.pk])).content.decode()

    assert "Refill available in 5 h" in page
    assert "within 30 days after completion · up to 2 refills per order · 24 hours between refills" in page


def test_a_refused_refill_in_the_browser_says_why_in_the_customer_s_language(signed_in, customer):
    now = timezone.now()
    order = completed_order(customer, ruled_service(), finished_at=now - timedelta(days=2))
    refill_at(order, now - timedelta(hours=19))

    response = signed_in.post(reverse("order_refill", args=[order.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="id")

    assert "Refill tersedia dalam 5 jam" in response.content.decode()
    assert Refill.objects.filter(order=order).count() == 1


def _inline_management(admin_client, url: str) -> dict:
    """The management fields of the change page's inlines, as the browser would send them back."""
    page = admin_client.get(url)
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {f"{inline.formset.prefix}-{name}": management[name].value() for name in management.fields}
    return data


def test_the_operator_sets_the_rules_in_the_service_admin(admin_client):
    service = ruled_service(refill_days=None, refill_max=None, refill_cooldown_hours=0)
    url = reverse("admin:providers_service_change", args=[service.pk])
    form = {"category": str(service.category_id), "markup_percent": "", "fixed_rate": "", "is_active": "on",
            **_inline_management(admin_client, url)}

    saved = admin_client.post(url, form | {"refill_days": "30", "refill_max": "2", "refill_cooldown_hours": "24"})
    assert saved.status_code == 302
    service.refresh_from_db()
    assert (service.refill_days, service.refill_max, service.refill_cooldown_hours) == (30, 2, 24)

    cleared = admin_client.post(url, form | {"refill_days": "", "refill_max": "", "refill_cooldown_hours": ""})
    assert cleared.status_code == 302
    service.refresh_from_db()
    assert (service.refill_days, service.refill_max, service.refill_cooldown_hours) == (None, None, 0)
