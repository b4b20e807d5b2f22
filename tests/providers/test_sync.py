"""Service sync against the upstream simulator: import, re-sync, prices, failures, query counts."""

import socket
from decimal import ROUND_CEILING, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.models import Category, ExchangeRate, Provider, Service, ServiceChange
from providers.services import SyncError, exchange_rate_set, services_sync, services_sync_all
from providers.simulator import DEMO_KEY
from providers.tasks import services_sync_all_task
from tests.factories import CategoryFactory, ProviderFactory

pytestmark = pytest.mark.django_db

D = Decimal


def _expected(upstream: Decimal, markup: str, exchange: str = "1") -> Decimal:
    """The sale price worked out by hand: converted, marked up, rounded up to 4 places."""
    return (upstream * D(exchange) * (1 + D(markup) / 100)).quantize(D("0.0001"), rounding=ROUND_CEILING)


@pytest.fixture(autouse=True)
def _pricing(settings):
    settings.PANEL_CURRENCY = "USD"
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")
    settings.PANEL_PRICE_DECIMALS = 4


@pytest.fixture
def sim(simulator):
    _resize(simulator, 150)
    return simulator


def _resize(sim, count: int) -> None:
    sim.config.services_count = count
    sim.catalogue.resize(count)


def _provider(sim, **fields) -> Provider:
    return ProviderFactory(**({"api_url": sim.url, "api_key": DEMO_KEY} | fields))


def test_first_sync_imports_every_service_with_its_sale_rate(sim):
    # given
    provider = _provider(sim)
    upstream = {str(s.service_id): s for s in sim.catalogue.all()}

    # when
    result = services_sync(provider=provider)

    # then
    services = {s.upstream_service_id: s for s in Service.objects.filter(provider=provider).select_related("category")}
    assert (result.added, result.changed, result.deactivated, result.unchanged) == (150, 0, 0, 0)
    assert services.keys() == upstream.keys()
    for sid, item in upstream.items():
        service = services[sid]
        assert service.rate == _expected(item.rate, "30"), sid
        assert (service.name, service.type, service.category.name) == (item.name, item.type, item.category)
        assert (service.min, service.max, service.refill, service.cancel, service.dripfeed) == (
            item.min, item.max, item.refill, item.cancel, item.dripfeed)
        assert service.is_active and service.available_upstream
    provider.refresh_from_db()
    assert provider.last_synced_at is not None
    # one "added" row per new service, with its sale price (never the upstream's)
    added = set(ServiceChange.objects.values_list("service__upstream_service_id", "field", "old_value", "new_value"))
    assert added == {(sid, "added", "", f"{service.rate.normalize():f}") for sid, service in services.items()}


def test_resync_reports_exactly_the_upstream_changes(sim):
    # given a first sync
    provider = _provider(sim)
    services_sync(provider=provider)
    first_rows = list(ServiceChange.objects.values_list("pk", flat=True))  # the services it added
    repriced = {"3": D("7.77"), "10": D("0.01"), "40": D("12.5")}
    removed = ["5", "6"]
    old_rates = {sid: sim.catalogue.get(sid).rate for sid in repriced}

    # when the upstream changes 3 prices, drops 2 services and adds 4
    for sid, rate in repriced.items():
        sim.catalogue.set_rate(sid, rate)
    for sid in removed:
        sim.catalogue.remove(sid)
    added = [sim.catalogue.add(name=f"New service {n}", category="Brand New Category", rate="2.00") for n in range(4)]
    result = services_sync(provider=provider)

    # then
    assert (result.added, result.changed, result.deactivated, result.reactivated, result.unchanged) == (
        4, 3, 2, 0, 150 - 3 - 2)
    changes = set(ServiceChange.objects.exclude(pk__in=first_rows)
                  .values_list("service__upstream_service_id", "field", "old_value", "new_value"))
    expected = {(str(s.service_id), "added", "", "2.6") for s in added}
    for sid, rate in repriced.items():
        expected.add((sid, "upstream_rate", f"{old_rates[sid].normalize():f}", f"{rate.normalize():f}"))
        expected.add((sid, "rate", f"{_expected(old_rates[sid], '30').normalize():f}",
                      f"{_expected(rate, '30').normalize():f}"))
    for sid in removed:
        expected |= {(sid, "available_upstream", "True", "False"), (sid, "is_active", "True", "False")}
    assert changes == expected
    # gone services are kept, switched off
    gone = Service.objects.filter(provider=provider, upstream_service_id__in=removed)
    assert [(s.is_active, s.available_upstream) for s in gone] == [(False, False)] * 2
    new = Service.objects.filter(provider=provider, upstream_service_id__in=[str(s.service_id) for s in added])
    assert {s.category.name for s in new} == {"Brand New Category"} and all(s.rate == D("2.6") for s in new)
    # and a third sync finds nothing to do
    again = services_sync(provider=provider)
    assert (again.added, again.changed, again.deactivated, again.unchanged) == (0, 0, 0, 152)


def test_a_returning_service_is_reactivated_only_when_the_sync_switched_it_off(sim):
    # given two services that disappear upstream; the admin had switched one of them off before
    provider = _provider(sim)
    services_sync(provider=provider)
    Service.objects.filter(provider=provider, upstream_service_id="8").update(is_active=False)
    kept = {sid: sim.catalogue.get(sid) for sid in ("7", "8")}
    for sid in kept:
        sim.catalogue.remove(sid)
    first = services_sync(provider=provider)

    # when both come back
    for item in kept.values():
        sim.catalogue.add(service_id=item.service_id, name=item.name, category=item.category, rate=item.rate,
                          type=item.type, min=item.min, max=item.max, refill=item.refill, cancel=item.cancel,
                          dripfeed=item.dripfeed)
    back = services_sync(provider=provider)

    # then
    assert first.deactivated == 2
    assert (back.reactivated, back.changed) == (1, 1)
    by_sync, by_admin = (Service.objects.get(provider=provider, upstream_service_id=sid) for sid in ("7", "8"))
    assert (by_sync.is_active, by_sync.available_upstream) == (True, True)
    assert (by_admin.is_active, by_admin.available_upstream) == (False, True)


def test_fixed_price_survives_sync_but_never_sells_below_cost(sim):
    provider = _provider(sim)
    services_sync(provider=provider)
    Service.objects.filter(provider=provider, upstream_service_id__in=["2", "4"]).update(fixed_rate=D("5"))

    # when the upstream moves one below and one above the fixed price
    sim.catalogue.set_rate("2", "1.00")
    sim.catalogue.set_rate("4", "6.00")
    services_sync(provider=provider)

    below, above = (Service.objects.get(provider=provider, upstream_service_id=sid) for sid in ("2", "4"))
    assert (below.fixed_rate, below.rate) == (D("5"), D("5"))
    assert (above.fixed_rate, above.rate) == (D("5"), D("6"))


def test_category_and_provider_markups_apply_on_import(sim):
    first = sim.catalogue.get("1")
    CategoryFactory(name=first.category, markup_percent=D("50"))
    provider = _provider(sim, markup_percent=D("10"))
    other = next(s for s in sim.catalogue.all() if s.category != first.category)

    services_sync(provider=provider)

    assert Service.objects.get(provider=provider, upstream_service_id="1").rate == _expected(first.rate, "50")
    assert Service.objects.get(provider=provider, upstream_service_id=str(other.service_id)).rate == _expected(
        other.rate, "10")


def test_foreign_currency_needs_an_exchange_rate(sim):
    # given a provider priced in EUR and no rate for EUR
    provider = _provider(sim, currency="EUR")

    with pytest.raises(SyncError, match="No exchange rate for EUR"):
        services_sync(provider=provider)
    assert not Service.objects.exists() and not Category.objects.exists()

    # when the rate exists
    ExchangeRate.objects.create(currency="EUR", rate=D("1.25"))
    services_sync(provider=provider)

    item = sim.catalogue.get("1")
    assert Service.objects.get(provider=provider, upstream_service_id="1").rate == _expected(item.rate, "30", "1.25")
    # and a new rate reprices at once
    exchange_rate_set(currency="EUR", rate="2")
    assert Service.objects.get(provider=provider, upstream_service_id="1").rate == _expected(item.rate, "30", "2")


def test_upstream_failures_change_nothing(sim):
    refused = _provider(sim, api_key="not-a-key")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = ProviderFactory(api_url=f"http://127.0.0.1:{closed_port}/api/v2")

    with pytest.raises(SyncError, match="refused") as refused_error:
        services_sync(provider=refused)
    with pytest.raises(SyncError, match="unavailable"):
        services_sync(provider=unreachable)

    assert "not-a-key" not in str(refused_error.value)
    assert not Service.objects.exists()
    assert Provider.objects.filter(last_synced_at__isnull=False).count() == 0


def test_an_empty_catalogue_deactivates_nothing(sim):
    provider = _provider(sim)
    services_sync(provider=provider)
    sim.catalogue.clear()

    with pytest.raises(SyncError, match="no services"):
        services_sync(provider=provider)

    assert Service.objects.filter(provider=provider, is_active=True).count() == 150


def test_nonsense_entries_are_skipped_and_leave_their_service_alone(sim):
    provider = _provider(sim)
    services_sync(provider=provider)
    before = Service.objects.get(provider=provider, upstream_service_id="9")

    # when the upstream lists one known service and one new one with max below min
    sim.catalogue.update("9", min=500, max=100)
    sim.catalogue.add(name="Broken", category="Broken", rate="1", min=50, max=5)
    result = services_sync(provider=provider)

    after = Service.objects.get(provider=provider, upstream_service_id="9")
    assert (result.skipped, result.added, result.deactivated, result.changed) == (2, 0, 0, 0)
    assert (after.min, after.max, after.is_active) == (before.min, before.max, True)
    assert not Service.objects.filter(name="Broken").exists()


def test_new_services_wait_for_review_when_the_provider_says_so(sim):
    provider = _provider(sim, import_new_active=False)

    services_sync(provider=provider)

    assert Service.objects.filter(provider=provider).count() == 150
    assert not Service.objects.filter(provider=provider, is_active=True).exists()


def test_sync_all_goes_on_past_a_failing_provider(sim):
    good = _provider(sim, name="good")
    _provider(sim, name="bad", api_key="wrong")
    _provider(sim, name="off", is_active=False)

    results = services_sync_all()
    summary = services_sync_all_task()

    assert set(results) == {"good", "bad"}
    assert results["good"].added == 150 and "refused" in results["bad"]
    assert summary["good"].startswith("added 0, changed 0") and "refused" in summary["bad"]
    assert Service.objects.filter(provider=good).count() == 150


def _sync_queries(provider: Provider) -> int:
    with CaptureQueriesContext(connection) as queries:
        services_sync(provider=provider)
    return len(queries)


def _churn(sim, *, step: int, tag: str) -> None:
    """Change every `step`-th price, remove the next ones, add a few: work that grows with the catalogue."""
    ids = [s.service_id for s in sim.catalogue.all()]
    for sid in ids[::step]:
        sim.catalogue.set_rate(sid, sim.catalogue.get(sid).rate + 1)
    for sid in ids[1::step]:
        sim.catalogue.remove(sid)
    for n in range(len(ids) // step):
        sim.catalogue.add(name=f"Extra {tag} {n}", category=f"Extra {tag} {n % 3}", rate="1")


@pytest.mark.postgres  # SQLite caps parameters per statement, so there bulk writes go in size-dependent batches
def test_sync_costs_the_same_number_of_queries_for_200_and_2000_services(simulator):
    # given the categories already known (a first sync created them)
    _resize(simulator, 200)
    services_sync(provider=_provider(simulator, name="warm-up"))
    small, large = _provider(simulator, name="small"), _provider(simulator, name="large")

    # when a first sync of 200 and of 2,000 services, then a re-sync of each after the upstream churned
    small_first = _sync_queries(small)
    _resize(simulator, 2000)
    large_first = _sync_queries(large)
    _resize(simulator, 200)
    _churn(simulator, step=40, tag="small")
    small_again = _sync_queries(small)
    _resize(simulator, 2000)
    _churn(simulator, step=40, tag="large")
    large_again = _sync_queries(large)

    # then
    assert Service.objects.filter(provider=large).count() >= 2000
    assert small_first == large_first <= 12
    assert small_again == large_again <= 14
