"""The public /updates/ page after re-syncs against the upstream simulator: sale prices only, never costs."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

import pytest
from django.urls import reverse

from panel.templatetags.web_format import money
from providers.models import Service, ServiceChange
from providers.services import service_set_active, services_sync
from providers.simulator import DEMO_KEY
from tests.factories import CustomerFactory, ProviderFactory

pytestmark = pytest.mark.django_db

D = Decimal
# Upstream costs no sale price on the page can spell by accident.
FIRST_COSTS = {"3": D("4.4441"), "7": D("2.2221")}
SECOND_COSTS = {"3": D("3.1415"), "7": D("9.8765")}


@pytest.fixture(autouse=True)
def _pricing(settings):
    settings.PANEL_CURRENCY = "USD"
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")
    settings.PANEL_PRICE_DECIMALS = 4


@pytest.fixture
def sim(simulator):
    simulator.config.services_count = 20
    simulator.catalogue.resize(20)
    return simulator


def _sale(cost: Decimal) -> Decimal:
    """The sale price worked out by hand: 30% markup, rounded up to 4 places."""
    return (cost * D("1.3")).quantize(D("0.0001"), rounding=ROUND_CEILING)


def _provider(sim, **fields):
    return ProviderFactory(**({"api_url": sim.url, "api_key": DEMO_KEY} | fields))


def _service(provider, sid: str) -> Service:
    return Service.objects.get(provider=provider, upstream_service_id=sid)


def _row(html: str, service: Service, kind: str) -> str:
    rows = re.findall(r'<tr id="change-\d+" data-change="(\w+)">(.*?)</tr>', html, re.S)
    found = [body for row_kind, body in rows if row_kind == kind and f"#{service.pk} · " in body]
    assert len(found) == 1, (kind, service.pk, len(found))
    return found[0]


def _cell_text(row: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", row)).strip()


def test_a_resync_with_price_changes_lists_old_and_new_sale_prices_and_no_upstream_cost(sim, client):
    # given a first import at known costs
    for sid, cost in FIRST_COSTS.items():
        sim.catalogue.set_rate(sid, cost)
    provider = _provider(sim)
    services_sync(provider=provider)

    # when the upstream moves one cost down and one up, and the panel syncs again
    for sid, cost in SECOND_COSTS.items():
        sim.catalogue.set_rate(sid, cost)
    services_sync(provider=provider)
    response = client.get(reverse("service_updates"))  # no one signed in

    # then
    assert response.status_code == 200
    html = response.content.decode()
    cheaper, dearer = _service(provider, "3"), _service(provider, "7")
    down = _cell_text(_row(html, cheaper, "price_down"))
    up = _cell_text(_row(html, dearer, "price_up"))
    assert f"{money(_sale(D('4.4441')))} → {money(_sale(D('3.1415')))} USD" in down  # 5.7774 → 4.084
    assert f"{money(_sale(D('2.2221')))} → {money(_sale(D('9.8765')))} USD" in up  # 2.8888 → 12.8395
    assert cheaper.name in down and dearer.name in up
    # the costs are in the change log, and nowhere on the page
    assert ServiceChange.objects.filter(field="upstream_rate", new_value="3.1415").exists()
    for cost in [*FIRST_COSTS.values(), *SECOND_COSTS.values()]:
        assert str(cost) not in html
    # the import's new services are listed at their sale price
    added = _cell_text(_row(html, cheaper, "added"))
    assert f"{money(_sale(D('4.4441')))} USD" in added


def test_services_gone_and_back_show_as_disabled_and_enabled_again(sim, client):
    # given
    provider = _provider(sim)
    services_sync(provider=provider)
    gone = sim.catalogue.get("5")

    # when the upstream drops a service, and later lists it again
    sim.catalogue.remove("5")
    services_sync(provider=provider)
    while_gone = client.get(reverse("service_updates"), {"kind": "disabled"}).content.decode()
    sim.catalogue.add(service_id=gone.service_id, name=gone.name, category=gone.category, rate=gone.rate,
                      type=gone.type, min=gone.min, max=gone.max, refill=gone.refill, cancel=gone.cancel,
                      dripfeed=gone.dripfeed)
    services_sync(provider=provider)
    html = client.get(reverse("service_updates")).content.decode()

    # then: one row each (the sync's available_upstream rows are not listed twice)
    service = _service(provider, "5")
    _row(while_gone, service, "disabled")
    assert "Disabled" in _row(html, service, "disabled")
    assert "Enabled again" in _row(html, service, "enabled")


def test_services_customers_cannot_see_leave_no_trace(sim, client):
    # given a service the admin switched off, a provider whose new services wait for review, and one turned off
    provider = _provider(sim, name="shown")
    services_sync(provider=provider)
    hidden = _service(provider, "9")
    service_set_active(service_ids=[hidden.pk], active=False)
    Service.objects.filter(pk=hidden.pk).update(name="Secret hidden service")
    sim.catalogue.set_rate("9", D("7.1234"))
    services_sync(provider=provider)
    review = _provider(sim, name="review", import_new_active=False)
    services_sync(provider=review)
    Service.objects.filter(provider=review).update(name="Waiting for review")
    off = _provider(sim, name="off")
    services_sync(provider=off)
    Service.objects.filter(provider=off).update(name="At a provider switched off")
    off.is_active = False
    off.save()

    # when
    html = client.get(reverse("service_updates"), {"page": "1"}).content.decode()
    everything = "".join(client.get(reverse("service_updates"), {"page": str(n)}).content.decode()
                         for n in range(1, 4))

    # then
    assert ServiceChange.objects.filter(service=hidden, field="rate").exists()
    assert ServiceChange.objects.filter(service__provider=review, field="added").count() == 20
    for name in ("Secret hidden service", "Waiting for review", "At a provider switched off"):
        assert name not in everything
    # only the shown provider's additions, less the one switched off since: one page
    assert len(re.findall(r'<tr id="change-', html)) == 19 and 'class="pagination"' not in html


def test_a_signed_in_customer_sees_the_page_in_the_panel_with_the_nav_link(sim, client):
    provider = _provider(sim)
    services_sync(provider=provider)
    client.force_login(CustomerFactory().user)

    html = client.get(reverse("service_updates")).content.decode()

    assert 'class="sidebar"' in html
    assert f'<a href="{reverse("service_updates")}" class="active">' in html
    assert len(re.findall(r'<tr id="change-', html)) == 20
