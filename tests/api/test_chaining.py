"""Chaining: a copy of this panel uses another running copy's /api/v2 as its provider."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from orders.models import Order
from providers.client import ProviderClient, close_sessions
from providers.models import Provider, Service
from providers.services import provider_create, services_sync
from tests.factories import CustomerFactory, ServiceFactory


@pytest.fixture(autouse=True)
def _close_upstream_sessions():
    # Pooled keep-alive connections must not outlive the live server they point at.
    yield
    close_sessions()


@pytest.mark.django_db(transaction=True)
def test_add_provider_and_sync_services_from_another_copys_api(live_server):
    # given a running panel selling three services, and a reseller there with a 10 % discount
    sold = [
        ServiceFactory(name="Followers", rate=Decimal("1.20"), min=50, max=10000, refill=True, cancel=False,
                       dripfeed=True, category__name="Instagram"),
        ServiceFactory(name="Comments", type="Custom Comments", rate=Decimal("8"), min=1, max=500, refill=False,
                       cancel=True, category__name="Instagram"),
        ServiceFactory(name="Poll votes", type="Poll", rate=Decimal("0.33333"), min=100, max=5000,
                       category__name="Twitter"),
    ]
    reseller = CustomerFactory(discount_percent=Decimal("10"))

    # when the other copy registers it as a provider and imports its catalogue
    out = StringIO()
    call_command("add_provider", "chained", live_server.url + "/api/v2", reseller.raw_api_key, "--markup", "25",
                 stdout=out)
    call_command("sync_services", "--provider", "chained", stdout=out)

    # then every service is imported with the reseller's price as the upstream rate
    provider = Provider.objects.get(name="chained")
    imported = {s.upstream_service_id: s for s in Service.objects.filter(provider=provider).select_related("category")}
    assert set(imported) == {str(s.pk) for s in sold}
    for original in sold:
        copy = imported[str(original.pk)]
        assert copy.upstream_rate == (original.rate * Decimal("0.9")).quantize(Decimal("0.00001"))
        assert (copy.name, copy.type, copy.category.name, copy.min, copy.max) == (
            original.name, original.type, original.category.name, original.min, original.max)
        assert (copy.refill, copy.cancel, copy.dripfeed) == (original.refill, original.cancel, original.dripfeed)
        assert copy.is_active
        assert copy.rate > copy.upstream_rate  # the 25 % markup


@pytest.mark.django_db(transaction=True)
def test_the_upstream_client_places_and_follows_an_order_on_another_copy(live_server, enqueued):
    # given
    service = ServiceFactory(rate=Decimal("2"), cancel=True)
    reseller = CustomerFactory(funds="10")
    provider = provider_create(name="chained", api_url=live_server.url + "/api/v2", api_key=reseller.raw_api_key)
    services_sync(provider=provider)
    client = ProviderClient(provider)

    # when
    upstream_id = client.add(service_id=str(service.pk), fields={"link": "https://x.com/a", "quantity": 500})
    status = client.status(upstream_id)
    statuses = client.statuses([upstream_id, "999999"])
    balance = client.balance()

    # then
    order = Order.objects.get(pk=int(upstream_id))
    assert (order.customer_id, order.quantity, order.charge) == (reseller.pk, 500, Decimal("1"))
    assert enqueued == [order.pk]
    assert (status.status, status.charge, status.remains, status.currency) == ("Pending", Decimal("1"), 500, "USD")
    assert statuses[upstream_id] == status
    assert statuses["999999"].message == "Incorrect order ID"
    assert (balance.amount, balance.currency) == (Decimal("9"), "USD")
