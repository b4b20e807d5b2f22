"""The providers admin: the key stays hidden, actions go through the services and reprice."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from providers.models import Category, ExchangeRate, Provider, Service, ServiceChange
from tests.factories import CategoryFactory, ProviderFactory, ServiceFactory

pytestmark = pytest.mark.django_db

D = Decimal
SECRET = "upstream-secret-key-0123456789"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # The manifest storage needs `collectstatic`; page rendering does not.
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _provider_form(provider: Provider, **changes) -> dict:
    data = {
        "name": provider.name, "api_url": provider.api_url, "api_key": "", "currency": provider.currency,
        "is_active": "on", "request_format": provider.request_format, "timeout_seconds": "5",
        "markup_percent": "" if provider.markup_percent is None else str(provider.markup_percent),
        "import_new_active": "on", "low_balance_threshold": "0",
        "unknown_policy": provider.unknown_policy,
        "unknown_refund_after_hours": str(provider.unknown_refund_after_hours),
    }
    return data | changes


def _action(admin_client, action: str, services, **extra):
    return admin_client.post(
        reverse("admin:providers_service_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [s.pk for s in services], "index": "0", **extra},
        follow=True,
    )


def test_api_key_is_never_shown_and_an_empty_field_keeps_it(admin_client):
    # given
    provider = ProviderFactory(api_key=SECRET)
    change_url = reverse("admin:providers_provider_change", args=[provider.pk])

    # when the admin opens the list and the change form, then saves with the key field left empty
    listing = admin_client.get(reverse("admin:providers_provider_changelist"))
    form_page = admin_client.get(change_url)
    saved = admin_client.post(change_url, _provider_form(provider, markup_percent="15"))

    # then
    assert listing.status_code == form_page.status_code == 200
    assert SECRET not in listing.content.decode() and SECRET not in form_page.content.decode()
    assert saved.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == SECRET and provider.markup_percent == D("15")


def test_a_new_key_replaces_the_old_one(admin_client):
    provider = ProviderFactory(api_key=SECRET)

    admin_client.post(reverse("admin:providers_provider_change", args=[provider.pk]),
                      _provider_form(provider, api_key="brand-new-key"))

    provider.refresh_from_db()
    assert provider.api_key == "brand-new-key"


def test_adding_a_provider_needs_a_key_and_a_valid_currency(admin_client):
    template = Provider(name="Fresh", api_url="https://fresh.example/api/v2", currency="usd")

    refused = admin_client.post(reverse("admin:providers_provider_add"), _provider_form(template, currency="us"))
    accepted = admin_client.post(reverse("admin:providers_provider_add"), _provider_form(template, api_key="k1"))

    assert refused.status_code == 200
    assert "A new provider needs an API key" in refused.content.decode()
    assert "three-letter currency" in refused.content.decode()
    assert accepted.status_code == 302
    assert Provider.objects.get(name="Fresh").currency == "USD"


def test_changing_a_provider_markup_reprices_its_services(admin_client, settings):
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")
    provider = ProviderFactory()
    service = ServiceFactory(provider=provider, upstream_rate=D("1"), rate=D("1.3"))

    admin_client.post(reverse("admin:providers_provider_change", args=[provider.pk]),
                      _provider_form(provider, markup_percent="50"))

    service.refresh_from_db()
    assert service.rate == D("1.5")


def test_service_list_shows_prices_and_margin_with_filters(admin_client, settings):
    settings.PANEL_CURRENCY = "USD"
    ServiceFactory(name="Cheap likes", upstream_rate=D("1"), rate=D("1.25"))
    ExchangeRate.objects.create(currency="EUR", rate=D("2"))
    ServiceFactory(name="Euro views", provider=ProviderFactory(currency="EUR"), upstream_rate=D("1"), rate=D("3"))
    ServiceFactory(name="Yen subs", provider=ProviderFactory(currency="JPY"), upstream_rate=D("1"), rate=D("3"))

    page = admin_client.get(reverse("admin:providers_service_changelist"))
    filtered = admin_client.get(reverse("admin:providers_service_changelist"), {"is_active__exact": "1",
                                                                                "q": "likes"})

    body = page.content.decode()
    assert page.status_code == 200
    assert "25.00" in body and "50.00" in body and "no exchange rate" in body
    assert "Cheap likes" in filtered.content.decode() and "Euro views" not in filtered.content.decode()


def test_set_markup_action_asks_then_applies(admin_client, settings):
    settings.PANEL_PRICE_DECIMALS = 4
    chosen = ServiceFactory.create_batch(2, upstream_rate=D("2"), rate=D("0"))
    other = ServiceFactory(upstream_rate=D("2"), rate=D("2.6"))

    # when the action is picked: an intermediate page with the form
    page = _action(admin_client, "set_markup", chosen)
    assert page.status_code == 200 and 'name="markup_percent"' in page.content.decode()
    # a negative markup is refused on that page
    refused = _action(admin_client, "set_markup", chosen, apply="Apply", markup_percent="-3")
    assert 'name="markup_percent"' in refused.content.decode()
    assert not Service.objects.filter(markup_percent__isnull=False).exists()
    # when applied
    done = _action(admin_client, "set_markup", chosen, apply="Apply", markup_percent="10")

    # then
    assert "Markup set on 2 service(s)" in done.content.decode()
    assert sorted(Service.objects.filter(pk__in=[s.pk for s in chosen]).values_list("rate", flat=True)) == [
        D("2.2"), D("2.2")]
    other.refresh_from_db()
    assert other.markup_percent is None and other.rate == D("2.6")


def test_move_to_category_action_reprices_by_the_new_category(admin_client, settings):
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")
    service = ServiceFactory(upstream_rate=D("1"), rate=D("1.3"))
    target = CategoryFactory(name="Premium", markup_percent=D("100"))

    page = _action(admin_client, "move_to_category", [service])
    done = _action(admin_client, "move_to_category", [service], apply="Apply", category=str(target.pk))

    assert page.status_code == 200 and "Premium" in page.content.decode()
    assert "1 service(s) moved to Premium" in done.content.decode()
    service.refresh_from_db()
    assert (service.category, service.rate) == (target, D("2"))


def test_activate_and_deactivate_actions(admin_client):
    live = ServiceFactory(is_active=True)
    gone = ServiceFactory(is_active=False, available_upstream=False)

    _action(admin_client, "deactivate", [live])
    live.refresh_from_db()
    assert not live.is_active
    page = _action(admin_client, "activate", [live, gone])

    live.refresh_from_db(), gone.refresh_from_db()
    assert live.is_active and not gone.is_active
    assert "1 gone upstream left inactive" in page.content.decode()


def test_saving_an_exchange_rate_in_admin_reprices(admin_client, settings):
    settings.PANEL_CURRENCY, settings.PANEL_DEFAULT_MARKUP_PERCENT = "USD", D("0")
    service = ServiceFactory(provider=ProviderFactory(currency="EUR"), upstream_rate=D("10"), rate=D("0"))

    refused = admin_client.post(reverse("admin:providers_exchangerate_add"), {"currency": "EUR", "rate": "0"})
    admin_client.post(reverse("admin:providers_exchangerate_add"), {"currency": "eur", "rate": "1.1"})

    assert refused.status_code == 200 and "must be positive" in refused.content.decode()
    service.refresh_from_db()
    assert service.rate == D("11")
    assert ServiceChange.objects.filter(service=service, field="rate", new_value="11").exists()


def test_category_ordering_and_markup_editable_from_the_list(admin_client, settings):
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")
    category = CategoryFactory(name="Views", sort_order=5)
    service = ServiceFactory(category=category, upstream_rate=D("1"), rate=D("1.3"))

    response = admin_client.post(reverse("admin:providers_category_changelist"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(category.pk), "form-0-sort_order": "1", "form-0-markup_percent": "40", "_save": "Save",
    })

    assert response.status_code == 302
    category.refresh_from_db(), service.refresh_from_db()
    assert (category.sort_order, category.markup_percent, service.rate) == (1, D("40"), D("1.4"))
    assert Category.objects.count() == 1


def test_service_change_log_is_read_only(admin_client):
    change = ServiceChange.objects.create(service=ServiceFactory(), field="rate", old_value="1", new_value="2")

    listing = admin_client.get(reverse("admin:providers_servicechange_changelist"), {"field": "rate"})
    add = admin_client.get(reverse("admin:providers_servicechange_add"))
    delete = admin_client.post(reverse("admin:providers_servicechange_delete", args=[change.pk]), {"post": "yes"})

    assert listing.status_code == 200 and "rate" in listing.content.decode()
    assert add.status_code == 403 and delete.status_code == 403
    assert ServiceChange.objects.filter(pk=change.pk).exists()


def _provider_action(admin_client, action: str, providers):
    return admin_client.post(
        reverse("admin:providers_provider_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in providers], "index": "0"},
        follow=True,
    )


def test_test_connection_shows_the_balance_or_the_error_never_the_key(admin_client, simulator):
    from providers.simulator import DEMO_KEY

    simulator.add_key(SECRET, balance="42.5")
    good = ProviderFactory(name="Good", api_url=simulator.url, api_key=SECRET)
    bad = ProviderFactory(name="Bad", api_url=simulator.url, api_key=SECRET + "-wrong")
    assert DEMO_KEY != SECRET

    page = _provider_action(admin_client, "test_connection", [good, bad])

    body = page.content.decode()
    assert "Good: connected, balance 42.5" in body
    assert "Bad: the upstream refused" in body
    assert SECRET not in body
    good.refresh_from_db()
    assert good.upstream_balance == D("42.5")


def test_sync_now_reports_what_changed(admin_client, simulator, settings):
    from providers.simulator import DEMO_KEY

    simulator.config.services_count = 60
    provider = ProviderFactory(name="Sim", api_url=simulator.url, api_key=DEMO_KEY)

    first = _provider_action(admin_client, "sync_now", [provider])
    simulator.catalogue.remove("3")
    second = _provider_action(admin_client, "sync_now", [provider])

    assert "Sim: added 60, changed 0, deactivated 0" in first.content.decode()
    assert "Sim: added 0, changed 0, deactivated 1" in second.content.decode()
    assert Service.objects.filter(provider=provider).count() == 60


def test_service_change_form_reprices_on_a_fixed_price_and_refuses_a_negative_markup(admin_client):
    service = ServiceFactory(upstream_rate=D("1"), rate=D("1.3"))
    url = reverse("admin:providers_service_change", args=[service.pk])
    form = {"category": str(service.category_id), "markup_percent": "", "fixed_rate": "4.5", "is_active": "on"}

    refused = admin_client.post(url, form | {"markup_percent": "-10"})
    saved = admin_client.post(url, form)

    assert refused.status_code == 200 and "between 0 and" in refused.content.decode()
    assert saved.status_code == 302
    service.refresh_from_db()
    assert (service.fixed_rate, service.rate, service.markup_percent) == (D("4.5"), D("4.5"), None)
    assert admin_client.get(url).status_code == 200
