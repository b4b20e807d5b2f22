"""The one bulk-update helper (sync and polling write through it): each row gets its own values, in one go."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.bulk import bulk_update_rows
from providers.models import Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_every_row_gets_its_own_values_of_every_type():
    # given: services whose rate, description, nullable markup and timestamp each change differently
    services = ServiceFactory.create_batch(3)
    other = ServiceFactory(description="untouched")
    when = dt.datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    for n, service in enumerate(services):
        service.rate = Decimal("1.00001") + n
        service.description = f"row {n} — ünïcode, 'quotes'"
        service.markup_percent = None if n == 1 else Decimal("12.5")
        service.updated_at = when + dt.timedelta(minutes=n)

    # when
    bulk_update_rows(services, ["rate", "description", "markup_percent", "updated_at"])

    # then
    for n, service in enumerate(services):
        fresh = Service.objects.get(pk=service.pk)
        assert fresh.rate == Decimal("1.00001") + n
        assert fresh.description == f"row {n} — ünïcode, 'quotes'"
        assert fresh.markup_percent == (None if n == 1 else Decimal("12.5"))
        assert fresh.updated_at == when + dt.timedelta(minutes=n)
    assert Service.objects.get(pk=other.pk).description == "untouched"


def test_many_rows_take_a_fixed_number_of_statements():
    services = ServiceFactory.create_batch(600)
    for n, service in enumerate(services):
        service.description = str(n)

    with CaptureQueriesContext(connection) as queries:
        bulk_update_rows(services, ["description"])

    # PostgreSQL: one statement; SQLite: one per batch under its parameter limit.
    expected = 1 if connection.vendor == "postgresql" else -(-600 // (connection.features.max_query_params // 2))
    assert len(queries) == expected
    assert list(Service.objects.filter(pk__in=[s.pk for s in services]).order_by("pk")
                .values_list("description", flat=True)) == [str(n) for n in range(600)]


def test_no_rows_is_no_statement():
    with CaptureQueriesContext(connection) as queries:
        bulk_update_rows([], ["description"])
    assert len(queries) == 0
