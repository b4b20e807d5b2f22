"""The /updates/ page and its Atom feed on change rows written directly: kinds, filters, pagination, queries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from news.changes import changes_public, public_change
from panel.templatetags.web_format import money
from providers.models import Service, ServiceChange
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


def _change(service: Service, field: str, old: str = "", new: str = "") -> ServiceChange:
    return ServiceChange.objects.create(service=service, field=field, old_value=old, new_value=new)


@pytest.fixture
def catalogue(db):
    """One change of each kind, plus rows that are never shown, over two categories."""
    instagram, tiktok = CategoryFactory(name="Instagram"), CategoryFactory(name="TikTok")
    likes = ServiceFactory(name="IG Likes", category=instagram)
    views = ServiceFactory(name="TT Views", category=tiktok)
    gone = ServiceFactory(name="IG Followers Old", category=instagram, is_active=False)
    rows = {
        "added": _change(views, "added", new="0.8"),
        "price_up": _change(likes, "rate", "1.2", "1.5"),
        "price_down": _change(views, "rate", "0.8", "0.65"),
        "disabled": _change(gone, "is_active", "True", "False"),
        "enabled": _change(likes, "is_active", "False", "True"),
    }
    # Costs and the other synced fields are not for customers.
    _change(likes, "upstream_rate", "0.9", "1.1537")
    _change(likes, "available_upstream", "False", "True")
    _change(views, "name", "TT Views old", "TT Views")
    _change(gone, "available_upstream", "True", "False")
    return {"rows": rows, "instagram": instagram, "tiktok": tiktok}


def _kinds(html: str) -> list[str]:
    return re.findall(r'<tr id="change-\d+" data-change="(\w+)">', html)


def test_each_kind_is_classified_with_its_sale_prices(catalogue):
    shown = {change.kind: change for change in map(public_change, changes_public())}

    assert set(shown) == {"added", "price_up", "price_down", "disabled", "enabled"}
    assert (shown["price_up"].old_rate, shown["price_up"].new_rate) == (D("1.2"), D("1.5"))
    assert (shown["price_down"].old_rate, shown["price_down"].new_rate) == (D("0.8"), D("0.65"))
    assert (shown["added"].old_rate, shown["added"].new_rate) == (None, D("0.8"))
    assert (shown["disabled"].old_rate, shown["disabled"].new_rate) == (None, None)
    assert shown["price_down"].as_context() == {"service_id": shown["price_down"].service_id,
                                                "service_name": "TT Views", "category": "TikTok",
                                                "kind": "price_down", "old_rate": "0.8", "new_rate": "0.65"}


def test_the_page_lists_every_kind_newest_first_and_never_a_cost(client, catalogue):
    html = client.get(reverse("service_updates")).content.decode()

    assert _kinds(html) == ["enabled", "disabled", "price_down", "price_up", "added"]
    assert "1.1537" not in html and "TT Views old" not in html
    assert f"<s data-old-rate>{money('1.2')}</s> → <strong data-new-rate>{money('1.5')}</strong>" in html


@pytest.mark.parametrize(("kind", "expected"), [
    ("added", ["added"]), ("price_up", ["price_up"]), ("price_down", ["price_down"]), ("disabled", ["disabled"]),
    ("enabled", ["enabled"]), ("", ["enabled", "disabled", "price_down", "price_up", "added"]),
])
def test_filter_by_kind(client, catalogue, kind, expected):
    assert _kinds(client.get(reverse("service_updates"), {"kind": kind}).content.decode()) == expected


def test_filter_by_category_and_kind_together(client, catalogue):
    instagram = catalogue["instagram"].pk

    in_category = client.get(reverse("service_updates"), {"category": instagram}).content.decode()
    both = client.get(reverse("service_updates"), {"category": instagram, "kind": "price_up"}).content.decode()

    assert _kinds(in_category) == ["enabled", "disabled", "price_up"]
    assert _kinds(both) == ["price_up"]
    assert f'<option value="{instagram}" selected>Instagram</option>' in both


@pytest.mark.parametrize("params", [{"kind": "cheaper"}, {"category": "abc"}, {"category": "999999"}])
def test_a_bad_filter_is_a_clear_error(client, catalogue, params):
    response = client.get(reverse("service_updates"), params)
    feed = client.get(reverse("service_updates_feed"), params)

    assert response.status_code == 400
    assert 'class="alert alert-error"' in response.content.decode() and "valid choice" in response.content.decode()
    assert feed.status_code == 400 and b"valid choice" in feed.content


def test_pages_of_50_keep_the_filters(client, db):
    service = ServiceFactory(name="Busy service")
    for n in range(120):
        _change(service, "rate", str(100 + n), str(101 + n))

    first = client.get(reverse("service_updates"), {"kind": "price_up"}).content.decode()
    last = client.get(reverse("service_updates"), {"kind": "price_up", "page": "3"}).content.decode()

    assert len(_kinds(first)) == 50 and len(_kinds(last)) == 20
    assert "Page 1 of 3 · 120 in all" in first
    assert 'href="?kind=price_up&amp;page=2"' in first
    assert f"<s data-old-rate>{money(219)}</s>" in first and f"<s data-old-rate>{money(119)}</s>" in last


def test_the_atom_feed_parses_and_follows_the_filters(client, catalogue):
    # when
    everything = client.get(reverse("service_updates_feed"))
    cheaper = client.get(reverse("service_updates_feed"), {"kind": "price_down"})

    # then
    assert everything["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(everything.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 5
    assert [e.findtext(f"{ATOM}title") for e in entries][:2] == [
        f"Enabled again: #{catalogue['rows']['enabled'].service_id} IG Likes",
        f"Disabled: #{catalogue['rows']['disabled'].service_id} IG Followers Old"]
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 5
    assert b"1.1537" not in everything.content
    only = ET.fromstring(cheaper.content).findall(f"{ATOM}entry")
    assert len(only) == 1
    assert only[0].findtext(f"{ATOM}summary") == f"TikTok · Price per 1000: {money('0.8')} → {money('0.65')} USD"
    link = only[0].find(f"{ATOM}link").get("href")
    assert link.endswith(f"/updates/#change-{catalogue['rows']['price_down'].pk}")


def test_the_page_links_the_feed_with_its_filters(client, catalogue):
    html = client.get(reverse("service_updates"), {"kind": "added"}).content.decode()

    feed = f'{reverse("service_updates_feed")}?kind=added'
    assert f'<link rel="alternate" type="application/atom+xml" title="Service updates" href="{feed}">' in html


def test_anonymous_visitors_get_the_public_layout_with_a_link_to_the_page(client, catalogue):
    html = client.get(reverse("service_updates")).content.decode()

    assert 'class="sidebar"' not in html
    assert f'href="{reverse("service_updates")}">Service updates</a>' in html
    assert reverse("login") in html


def _queries(client, count: int, **params) -> int:
    ServiceChange.objects.all().delete()
    category = CategoryFactory(name=f"Category of {count}")
    for n in range(count):
        service = ServiceFactory(category=category)
        _change(service, ("added", "rate", "is_active")[n % 3], *(("", "1"), ("1", "2"), ("True", "False"))[n % 3])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("service_updates"), params)
    assert response.status_code == 200 and len(_kinds(response.content.decode())) == count
    return len(queries)


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_page_costs_the_same_queries_for_5_and_50_changes(client, db, signed_in):
    if signed_in:
        client.force_login(CustomerFactory().user)

    few, many = _queries(client, 5), _queries(client, 50)

    assert few == many
    assert few <= (12 if signed_in else 4)


def test_the_feed_costs_the_same_queries_for_5_and_50_changes(client, db):
    def feed_queries(count: int) -> int:
        _queries(client, count)  # the rows
        with CaptureQueriesContext(connection) as queries:
            assert len(ET.fromstring(client.get(reverse("service_updates_feed")).content)) > count
        return len(queries)

    assert feed_queries(5) == feed_queries(50) <= 3
