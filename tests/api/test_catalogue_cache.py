"""The `services` answer served from a cached body per discount (providers.catalogue), and everything that
changes the catalogue making the next answer new."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.models import Provider, Service
from providers.services import (
    category_save,
    exchange_rate_set,
    provider_save,
    service_set_active,
    service_set_markup,
    services_sync,
)
from providers.simulator import DEMO_KEY
from tests.api.conftest import answer_of, api_call
from tests.factories import CustomerFactory, ProviderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pricing(settings):
    settings.PANEL_CURRENCY = "USD"
    settings.PANEL_DEFAULT_MARKUP_PERCENT = Decimal("30")
    settings.PANEL_PRICE_DECIMALS = 4


def _services(client, customer) -> dict[int, dict]:
    answer = answer_of(api_call(client, "form", {"key": customer.raw_api_key, "action": "services"}))
    return {item["service"]: item for item in answer}


def test_each_discount_has_its_body_and_both_are_cached(client, django_assert_num_queries):
    # given
    ServiceFactory(rate=Decimal("2.00"))
    plain, loyal = CustomerFactory(), CustomerFactory(discount_percent=Decimal("10"))
    first = [_services(client, plain), _services(client, loyal)]

    # when
    with django_assert_num_queries(0):
        again = [_services(client, plain), _services(client, loyal)]

    # then
    assert again == first
    assert [next(iter(body.values()))["rate"] for body in again] == ["2.00", "1.80"]


def test_a_sync_shows_at_once(client, simulator):
    # given: a catalogue listed (and cached) before the provider's first sync
    customer = CustomerFactory()
    provider = ProviderFactory(api_url=simulator.url, api_key=DEMO_KEY)
    assert _services(client, customer) == {}

    # when
    result = services_sync(provider=provider)

    # then
    assert len(_services(client, customer)) == result.added > 0


def test_price_edits_show_at_once(client):
    # given
    service = ServiceFactory(upstream_rate=Decimal("1.00"), rate=Decimal("1.30"))
    customer = CustomerFactory()
    assert _services(client, customer)[service.pk]["rate"] == "1.30"

    # when: the service's own markup, then the provider's currency rate
    service_set_markup(service_ids=[service.pk], markup_percent="50")
    after_markup = _services(client, customer)[service.pk]["rate"]
    Provider.objects.filter(pk=service.provider_id).update(currency="EUR")
    exchange_rate_set(currency="EUR", rate="2")
    after_rate = _services(client, customer)[service.pk]["rate"]

    # then
    assert (after_markup, after_rate) == ("1.50", "3.00")


def test_a_category_renamed_and_a_provider_switched_off_show_at_once(client):
    # given
    service = ServiceFactory()
    other = ServiceFactory()
    customer = CustomerFactory()
    assert set(_services(client, customer)) == {service.pk, other.pk}

    # when
    category = service.category
    category.name = "Renamed"
    category_save(category=category)
    renamed = _services(client, customer)[service.pk]["category"]
    provider = Provider.objects.get(pk=other.provider_id)
    provider.is_active = False
    provider_save(provider=provider)

    # then
    assert renamed == "Renamed"
    assert set(_services(client, customer)) == {service.pk}


def test_services_switched_off_or_saved_in_the_admin_show_at_once(client):
    # given
    service, other = ServiceFactory(), ServiceFactory()
    customer = CustomerFactory()
    assert set(_services(client, customer)) == {service.pk, other.pk}

    # when
    service_set_active(service_ids=[service.pk], active=False)
    without = set(_services(client, customer))
    other.name = "Better name"
    other.save()

    # then
    assert without == {other.pk}
    assert _services(client, customer)[other.pk]["name"] == "Better name"


def test_health_bookkeeping_on_a_provider_keeps_the_body(client, django_assert_num_queries):
    # given
    service = ServiceFactory()
    customer = CustomerFactory()
    _services(client, customer)

    # when: the pipeline records a failure or a balance
    provider = Provider.objects.get(pk=service.provider_id)
    provider.last_error = "Unavailable: HTTP 502"
    provider.save(update_fields=["last_error"])

    # then
    with django_assert_num_queries(0):
        assert set(_services(client, customer)) == {service.pk}


def test_the_body_is_what_the_protocol_lists(client):
    # given
    service = ServiceFactory(rate=Decimal("1.23450"), min=10, max=500, refill=True, cancel=False)
    customer = CustomerFactory()

    # when
    item = _services(client, customer)[service.pk]

    # then
    assert item == {"service": service.pk, "name": service.name, "type": "Default",
                    "category": service.category.name, "rate": "1.2345", "min": "10", "max": "500",
                    "refill": True, "cancel": False, "dripfeed": False}
    assert Service.objects.count() == 1
