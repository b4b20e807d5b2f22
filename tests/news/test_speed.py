"""Average time per service: the median of recent completed orders per 1000, and where customers see it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from news.models import ServiceSpeed
from news.speed import duration_text, service_speeds_compute
from news.tasks import service_speeds_compute_task
from orders.models import Order, Status
from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


@pytest.fixture
def customer(db):
    return CustomerFactory()


def _completed(service, customer, *, took: timedelta, quantity: int = 1000, ended_ago: timedelta = timedelta(days=1),
               status: str = Status.COMPLETED, runs: int | None = None) -> Order:
    order = OrderFactory(service=service, customer=customer, quantity=quantity, runs=runs)
    finished = NOW - ended_ago
    # Explicit timestamps: created_at is stamped on insert, so it is set afterwards.
    Order.objects.filter(pk=order.pk).update(status=status, created_at=finished - took, finished_at=finished)
    return order


def test_the_median_time_per_1000_of_the_last_completed_orders(customer, settings):
    settings.SERVICE_SPEED_ORDERS, settings.SERVICE_SPEED_DAYS = 10, 90
    # given: times per 1000 of 1h, 2h, 2h15m (as 500 in 1h07m30s), 3h, 10h; and orders that do not count
    service = ServiceFactory()
    for hours in (1, 2, 3, 10):
        _completed(service, customer, took=timedelta(hours=hours))
    _completed(service, customer, took=timedelta(hours=1, minutes=7, seconds=30), quantity=500)
    _completed(service, customer, took=timedelta(minutes=5), status=Status.PARTIAL)
    _completed(service, customer, took=timedelta(minutes=5), status=Status.CANCELED)
    _completed(service, customer, took=timedelta(minutes=5), ended_ago=timedelta(days=91))
    OrderFactory(service=service, customer=customer, status=Status.IN_PROGRESS)

    # when
    service_speeds_compute(now=NOW)

    # then
    speed = ServiceSpeed.objects.get(service=service)
    assert (speed.samples, speed.seconds_per_1000, speed.computed_at) == (5, 2 * 3600 + 15 * 60, NOW)
    assert duration_text(speed.seconds_per_1000) == "2 hours 15 minutes"


def test_only_the_last_n_orders_count(customer, settings):
    settings.SERVICE_SPEED_ORDERS = 3
    service = ServiceFactory()
    # the three most recent took 1 minute per 1000; older ones took a day
    for n in range(3):
        _completed(service, customer, took=timedelta(days=1), ended_ago=timedelta(days=10 + n))
    for n in range(3):
        _completed(service, customer, took=timedelta(minutes=1), ended_ago=timedelta(days=1 + n))

    service_speeds_compute(now=NOW)

    speed = ServiceSpeed.objects.get(service=service)
    assert (speed.samples, speed.seconds_per_1000) == (3, 60)


def test_fewer_than_three_orders_is_not_enough_data(customer, client):
    # given
    sparse, unknown = ServiceFactory(name="Sparse"), ServiceFactory(name="Never ordered")
    for _ in range(2):
        _completed(sparse, customer, took=timedelta(hours=1))

    # when
    service_speeds_compute(now=NOW)
    client.force_login(customer.user)
    html = client.get(reverse("services")).content.decode()

    # then
    assert ServiceSpeed.objects.get(service=sparse).seconds_per_1000 is None
    assert not ServiceSpeed.objects.filter(service=unknown).exists()
    for service in (sparse, unknown):
        assert _average_cell(html, service) == "Not enough data"


def test_a_service_whose_orders_left_the_window_loses_its_figure(customer, settings):
    service = ServiceFactory()
    for _ in range(3):
        _completed(service, customer, took=timedelta(hours=1), ended_ago=timedelta(days=80))
    service_speeds_compute(now=NOW)
    assert ServiceSpeed.objects.get(service=service).seconds_per_1000 == 3600

    service_speeds_compute(now=NOW + timedelta(days=20))

    speed = ServiceSpeed.objects.get(service=service)
    assert (speed.samples, speed.seconds_per_1000, speed.computed_at) == (0, None, NOW + timedelta(days=20))


def test_drip_feed_counts_every_run_and_a_package_counts_per_package(customer):
    drip = ServiceFactory(dripfeed=True)
    package = ServiceFactory(type="Package", min=1, max=1)
    for _ in range(3):
        _completed(drip, customer, took=timedelta(hours=4), quantity=500, runs=4)  # 2000 units
        _completed(package, customer, took=timedelta(minutes=30), quantity=1)

    service_speeds_compute(now=NOW)

    assert ServiceSpeed.objects.get(service=drip).seconds_per_1000 == 2 * 3600
    assert ServiceSpeed.objects.get(service=package).seconds_per_1000 == 30 * 60


def test_durations_in_words():
    assert duration_text(30) == "less than a minute"
    assert duration_text(60) == "1 minute"
    assert duration_text(3600) == "1 hour"
    assert duration_text(3 * 3600 + 60) == "3 hours 1 minute"
    assert duration_text(86400 + 3600 * 5 + 59) == "1 day 5 hours"
    assert duration_text(2 * 86400 + 7 * 60) == "2 days"  # no "0 hours 7 minutes"
    with translation.override("id"):
        assert duration_text(2 * 3600 + 15 * 60) == "2 jam 15 menit"
        assert duration_text(10) == "kurang dari satu menit"


def _computed_with(count: int, customer) -> int:
    category = CategoryFactory(name=f"Speed {count}")
    for n in range(count):
        service = ServiceFactory(category=category)
        for k in range(3):
            _completed(service, customer, took=timedelta(minutes=10 + n + k))
    with CaptureQueriesContext(connection) as queries:
        service_speeds_compute(now=NOW)
    return len(queries)


def test_computing_costs_the_same_queries_for_5_and_50_services(customer):
    few, many = _computed_with(5, customer), _computed_with(50, customer)

    # the orders read, one upsert, one update of stale rows, and the savepoint around the writes
    assert few == many <= 5
    assert ServiceSpeed.objects.filter(seconds_per_1000__isnull=False).count() == 55
    assert service_speeds_compute_task() == 0  # on today's clock the test orders are long gone


def _average_cell(html: str, service) -> str:
    row = re.search(rf'<tr data-service="{service.pk}".*?</tr>', html, re.S).group(0)
    return re.search(r"<td[^>]*data-average-time>(.*?)</td>", row, re.S).group(1).strip()


def test_the_service_list_shows_each_average_time(customer, client):
    fast, slow = ServiceFactory(name="Fast likes"), ServiceFactory(name="Slow followers")
    for _ in range(3):
        _completed(fast, customer, took=timedelta(minutes=20), quantity=2000)
        _completed(slow, customer, took=timedelta(days=3, hours=1))
    service_speeds_compute(now=NOW)
    client.force_login(customer.user)

    html = client.get(reverse("services")).content.decode()
    translation.activate("id")
    try:
        client.cookies["django_language"] = "id"
        html_id = client.get(reverse("services"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    finally:
        translation.deactivate()

    assert _average_cell(html, fast) == "10 minutes"
    assert _average_cell(html, slow) == "3 days 1 hour"
    assert _average_cell(html_id, slow) == "3 hari 1 jam"


def _service_list_queries(client, customer, count: int) -> int:
    category = CategoryFactory(name=f"List {count}")
    services = [ServiceFactory(category=category) for _ in range(count)]
    ServiceSpeed.objects.bulk_create([ServiceSpeed(service=s, seconds_per_1000=600 + n, samples=3, computed_at=NOW)
                                      for n, s in enumerate(services) if n % 2])
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("services")).content.decode()
    assert html.count("data-average-time>") >= count
    return len(queries)


def test_the_service_list_costs_the_same_queries_for_5_and_50_services(customer, client):
    client.force_login(customer.user)

    few = _service_list_queries(client, customer, 5)
    many = _service_list_queries(client, customer, 50)

    assert few == many


def test_the_order_form_card_shows_the_average_time(customer, client):
    service = ServiceFactory(name="Carded")
    for _ in range(3):
        _completed(service, customer, took=timedelta(hours=2, minutes=15))
    service_speeds_compute(now=NOW)
    client.force_login(customer.user)
    bare = ServiceFactory(name="No figure yet", category=service.category)

    card = client.get(reverse("order_new"), {"service": service.pk}).content.decode()
    empty = client.get(reverse("order_new"), {"service": bare.pk}).content.decode()

    assert re.search(r"<dd data-average-time>2 hours 15 minutes</dd>", card)
    assert re.search(r"<dd data-average-time>Not enough data</dd>", empty)
