"""A service's alternates: the operator command, the rules an alternate must meet, the admin inline and the
"find alternates" proposal the operator confirms."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEntry
from providers.alternates import AlternateError, alternate_set, alternates_propose
from providers.models import ExchangeRate, ServiceAlternate
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def sold():
    """A sellable service at one provider, and the same thing in two other providers' synced catalogues."""
    service = ServiceFactory(name="Instagram Followers [Real] 30d refill", upstream_rate=D("1.00"), min=100,
                             max=10000, provider__name="Primary")
    backup = ServiceFactory(name="Instagram Followers Real - 30 days refill", upstream_rate=D("1.10"), min=50,
                            max=50000, provider__name="Backup", is_active=False, upstream_service_id="77")
    other = ServiceFactory(name="Instagram followers real (refill 30d)", upstream_rate=D("0.95"), min=100,
                           max=5000, provider__name="Other", upstream_service_id="5")
    return service, backup, other


def test_command_sets_changes_and_removes_an_alternate(sold, capsys):
    service, backup, other = sold

    # when
    call_command("service_alternate", str(service.pk), "Backup", "77")
    call_command("service_alternate", str(service.pk), "Other", "5", "--priority", "5")
    call_command("service_alternate", str(service.pk), "Backup", "77", "--priority", "1")

    # then: one alternate per provider, in priority order, each change audited
    rows = list(service.alternates.values_list("provider__name", "upstream_service_id", "priority"))
    assert rows == [("Backup", "77", 1), ("Other", "5", 5)]
    assert "alternate Backup service 77 (priority 1)" in capsys.readouterr().out
    assert AuditEntry.objects.filter(action="service.alternate_set", subject_id=service.pk).count() == 3

    # when removed
    call_command("service_alternate", str(service.pk), "Backup", "77", "--remove")

    # then
    assert list(service.alternates.values_list("provider__name", flat=True)) == ["Other"]
    assert AuditEntry.objects.filter(action="service.alternate_remove", subject_id=service.pk).count() == 1
    with pytest.raises(CommandError, match="has no alternate"):
        call_command("service_alternate", str(service.pk), "Backup", "77", "--remove")


def test_a_new_alternate_goes_last(sold):
    service, backup, other = sold
    first = alternate_set(service_id=service.pk, provider_name="Other", upstream_service_id="5")
    second = alternate_set(service_id=service.pk, provider_name="Backup", upstream_service_id="77")
    assert (first.priority, second.priority) == (10, 20)


@pytest.mark.parametrize(("provider", "upstream_id", "message"), [
    ("Nobody", "77", "No provider named 'Nobody'"),
    ("Backup", "999", "sync its services first"),
    ("Primary", None, "the service's own provider"),
    ("Typed", "9", "of type Package, not Default"),
    ("Small", "3", "takes 1..10, none of the service's 100..10000"),
])
def test_an_alternate_must_be_in_the_providers_catalogue_and_fit(sold, provider, upstream_id, message):
    service, _, _ = sold
    ServiceFactory(provider__name="Typed", upstream_service_id="9", type="Package")
    ServiceFactory(provider__name="Small", upstream_service_id="3", min=1, max=10)
    with pytest.raises(AlternateError, match=message):
        alternate_set(service_id=service.pk, provider_name=provider,
                      upstream_service_id=upstream_id or service.upstream_service_id)
    assert not ServiceAlternate.objects.exists()


def test_the_command_names_what_is_wrong(sold):
    service, _, _ = sold
    with pytest.raises(CommandError, match="no service 999 in its catalogue"):
        call_command("service_alternate", str(service.pk), "Backup", "999")


def test_proposal_keeps_same_type_similar_name_overlapping_limits_and_close_cost(sold, settings):
    service, backup, other = sold
    settings.ALTERNATE_MAX_COST_DIFF_PERCENT = D("20")
    ServiceFactory(name="Instagram Followers Real 30d", type="Package", provider=backup.provider)  # type
    ServiceFactory(name="YouTube Watch Time", provider=backup.provider)  # name
    ServiceFactory(name="Instagram Followers [Real] 30d refill", upstream_rate=D("1.50"),
                   provider=backup.provider)  # 50 % dearer
    ServiceFactory(name="Instagram Followers [Real] 30d refill", min=20000, max=30000,
                   provider=backup.provider)  # limits
    ServiceFactory(name="Instagram Followers [Real] 30d refill (eur)", upstream_rate=D("1.00"),
                   provider__name="Euro", provider__currency="EUR")  # no exchange rate: cannot be priced
    ServiceFactory(name="Instagram Followers [Real] 30d refill", provider=service.provider)  # same provider

    # when
    proposals = alternates_propose(services=[service])[service.pk]

    # then: the two alike services at other providers, the closest name first
    assert {c.entry.pk for c in proposals} == {backup.pk, other.pk}
    assert proposals[0].similarity >= proposals[1].similarity
    by_entry = {c.entry.pk: c for c in proposals}
    assert by_entry[backup.pk].cost_diff_percent == D("10.00") and by_entry[backup.pk].covers_limits
    assert by_entry[other.pk].cost_diff_percent == D("5.00") and not by_entry[other.pk].covers_limits

    # when the euro gets a rate, its service is priced (and close enough); a chosen alternate is not proposed again
    ExchangeRate.objects.create(currency="EUR", rate=D("1.1"))
    alternate_set(service_id=service.pk, provider_name="Backup", upstream_service_id="77")
    again = {c.entry.provider.name for c in alternates_propose(services=[service])[service.pk]}
    assert again == {"Other", "Euro"}


def test_find_alternates_action_proposes_then_sets_what_the_operator_ticks(sold, admin_client):
    service, backup, other = sold
    url = reverse("admin:providers_service_changelist")
    base = {"action": "find_alternates", ACTION_CHECKBOX_NAME: [service.pk], "index": "0"}

    # when the action is chosen
    page = admin_client.post(url, base)

    # then the intermediate page lists the candidates, nothing is set yet
    html = page.content.decode()
    assert page.status_code == 200
    assert f'value="{service.pk}:{backup.pk}"' in html and f'value="{service.pk}:{other.pk}"' in html
    assert not ServiceAlternate.objects.exists()

    # when confirmed without a reason: refused, nothing set
    refused = admin_client.post(url, {**base, "apply": "1", "pick": [f"{service.pk}:{backup.pk}"]})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert not ServiceAlternate.objects.exists()

    # when confirmed with one ticked and a reason
    done = admin_client.post(url, {**base, "apply": "1", "pick": [f"{service.pk}:{backup.pk}"],
                                   "reason": "Backup panel for followers"}, follow=True)

    # then only that one is set, audited with the reason
    assert done.status_code == 200
    assert list(service.alternates.values_list("provider__name", "upstream_service_id")) == [("Backup", "77")]
    entry = AuditEntry.objects.get(action="service.alternate_set")
    assert entry.reason == "Backup panel for followers" and entry.actor is not None


def test_inline_shows_terms_and_saves_through_the_service(sold, admin_client):
    service, backup, other = sold
    alternate_set(service_id=service.pk, provider_name="Backup", upstream_service_id="77")
    url = reverse("admin:providers_service_change", args=[service.pk])

    # when the page is shown
    page = admin_client.get(url)

    # then the alternate's terms there are read from the catalogue
    html = page.content.decode()
    assert page.status_code == 200
    assert "Instagram Followers Real - 30 days refill · Default · 50..50000" in html

    # when the operator adds a second one with a service the provider does not list
    existing = service.alternates.get()
    data = {
        "category": str(service.category_id), "markup_percent": "", "fixed_rate": "", "is_active": "on",
        "refill_days": "", "refill_max": "", "refill_cooldown_hours": "0",
        "alternates-TOTAL_FORMS": "2", "alternates-INITIAL_FORMS": "1", "alternates-MIN_NUM_FORMS": "0",
        "alternates-MAX_NUM_FORMS": "1000",
        "alternates-0-id": str(existing.pk), "alternates-0-service": str(service.pk),
        "alternates-0-provider": str(backup.provider_id), "alternates-0-upstream_service_id": "77",
        "alternates-0-priority": "10",
        "alternates-1-service": str(service.pk), "alternates-1-provider": str(other.provider_id),
        "alternates-1-upstream_service_id": "404", "alternates-1-priority": "20",
    }
    refused = admin_client.post(url, data)

    # then the form says why, and nothing changes
    assert refused.status_code == 200
    assert "sync its services first" in refused.content.decode()
    assert service.alternates.count() == 1

    # when corrected
    saved = admin_client.post(url, data | {"alternates-1-upstream_service_id": "5"})

    # then saved, and audited
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert list(service.alternates.values_list("provider__name", flat=True)) == ["Backup", "Other"]
    assert AuditEntry.objects.filter(action="service.alternate_set", reason="Edited on the service's page").exists()


def test_add_provider_marks_a_provider_idempotent(capsys):
    call_command("add_provider", "Panel A", "https://a.example/api/v2", "key-a", "--idempotent-add")
    call_command("add_provider", "Plain", "https://p.example/api/v2", "key-p")
    from providers.models import Provider

    assert dict(Provider.objects.values_list("name", "idempotent_add")) == {"Panel A": True, "Plain": False}


def test_the_proposal_page_costs_the_same_queries_for_one_service_or_many(sold, admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    service, backup, other = sold
    more = [ServiceFactory(name=f"Instagram Followers [Real] 30d refill {n}", provider=service.provider)
            for n in range(5)]
    url = reverse("admin:providers_service_changelist")

    def page(chosen) -> int:
        with CaptureQueriesContext(connection) as queries:
            answer = admin_client.post(url, {"action": "find_alternates", ACTION_CHECKBOX_NAME: [s.pk for s in chosen],
                                             "index": "0"})
        assert answer.status_code == 200 and f'value="{chosen[0].pk}:{backup.pk}"' in answer.content.decode()
        return len(queries)

    assert page([service]) == page([service, *more])


def test_the_service_page_costs_the_same_queries_for_one_alternate_or_three(sold, admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    service, backup, other = sold
    url = reverse("admin:providers_service_change", args=[service.pk])
    alternate_set(service_id=service.pk, provider_name="Backup", upstream_service_id="77")

    def page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries)

    one = page()
    alternate_set(service_id=service.pk, provider_name="Other", upstream_service_id="5")
    third = ServiceFactory(name="Followers elsewhere", provider__name="Third", upstream_service_id="8")
    alternate_set(service_id=service.pk, provider_name="Third", upstream_service_id=third.upstream_service_id)
    assert page() == one
