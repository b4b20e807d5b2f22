"""The admin home: what waits for an operator, counted, each count a link to the list that shows it; the
panel's name and logo instead of Django's; a fixed number of queries."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services as money
from accounts.models import LedgerEntry
from providers.pricing import format_money
from tests.admin.conftest import home_items, staff_client, things_waiting
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LABELS = {
    "unknown": "Orders with an unknown outcome",
    "flagged": "Flagged orders",
    "payment_requests": "Payment requests to decide",
    "review": "Deposits held for review",
    "open_deposits": "Deposits waiting for the payer",
    "tickets": "Open tickets",
    "low_balance": "Low balance",
    "circuit_open": "Circuit open",
}


def _home(client):
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    return page.content.decode()


def test_the_home_counts_what_waits_and_each_count_opens_the_list_of_exactly_those(admin_client):
    # given: two of everything the home counts, among things it must not count
    expected = things_waiting(copies=2)

    # when
    items = home_items(_home(admin_client))

    # then: every count is right
    assert {key: items[label][0] for key, label in LABELS.items()} == expected
    assert items["Paused (429)"][0] == 0  # a pause that is over is no problem
    # and each link opens a change list filtered to exactly the things counted
    for label in LABELS.values():
        count, url = items[label]
        listing = admin_client.get(url)
        assert listing.status_code == 200, url
        assert listing.context["cl"].result_count == count, (label, url)


def test_the_home_shows_todays_money_and_thirty_days_of_charts(admin_client):
    # given
    things_waiting()

    # when
    html = _home(admin_client)

    # then: today's four figures and the orders count, and four charts of 30 bars, drawn on the server
    for key in ("revenue", "cost", "profit", "deposits", "orders"):
        assert f'data-figure="{key}"' in html
    for key in ("revenue", "profit", "orders", "deposits"):
        assert f'data-chart="{key}"' in html
    assert html.count('<rect class="ph-bar') == 4 * 30
    # and today's revenue opens today's orders (failed sends have no revenue: things_waiting has none)
    url = re.search(r'href="([^"]+)" data-figure="revenue"', html).group(1)
    assert admin_client.get(url).context["cl"].result_count == 4
    assert "<script" not in html.split('id="panel-overview"')[1].split("</section>")[0]
    # and the other sections of the home are still there: unknown orders per provider, the app list
    assert 'id="unknown-orders"' in html and 'id="content-main"' in html


def test_the_home_costs_the_same_queries_for_one_or_many_of_everything(admin_client):
    # given: the home read once with one of everything
    things_waiting(copies=1)
    admin_client.get(reverse("admin:index"))  # sessions and permission caches warm
    with CaptureQueriesContext(connection) as few:
        _home(admin_client)

    # when: five times as much of everything
    things_waiting(copies=5)
    with CaptureQueriesContext(connection) as many:
        _home(admin_client)

    # then
    assert len(many) == len(few), [q["sql"][:120] for q in many]
    assert len(many) <= 20
    print(f"admin home: {len(many)} queries")


def test_staff_see_only_the_sections_they_may_open(client):
    # given: staff who may look at orders only
    things_waiting()
    orders_only = staff_client("view_order")

    # when
    html = _home(orders_only)

    # then
    items = home_items(html)
    assert set(items) == {LABELS["unknown"], LABELS["flagged"]}
    assert 'data-figure="revenue"' in html and 'data-figure="deposits"' not in html
    assert 'id="provider-health"' not in html


def test_the_admin_carries_the_panels_name_logo_and_favicon_not_djangos(admin_client, client, settings):
    # given
    settings.PANEL_NAME = "Pesat SMM"

    # when: the home, a change list, and the sign-in page for someone signed out
    pages = [_home(admin_client), admin_client.get(reverse("admin:orders_order_changelist")).content.decode(),
             client.get(reverse("admin:login")).content.decode()]

    # then
    for html in pages:
        assert "Django administration" not in html and "Django site admin" not in html
        assert "<title>" in html and "Pesat SMM admin</title>" in html
        assert 'rel="icon"' in html and "panel/logo.svg" in html
        assert "panel/admin.css" in html
    assert "<h1>Overview</h1>" in pages[0]
    assert finders.find("panel/logo.svg") and finders.find("panel/admin.css")  # vendored, no CDN


def test_the_orders_dashboard_names_stages_in_operator_words_and_is_linked_from_the_home(admin_client):
    # given
    things_waiting()

    # when
    html = admin_client.get(reverse("admin:orders_dashboard")).content.decode()

    # then
    assert ">Unknown outcome" in html and ">Paid, waiting for a worker<" in html
    assert ">unknown<" not in html and ">paid<" not in html
    assert reverse("admin:orders_dashboard") in _home(admin_client)


def test_todays_deposits_count_money_received_and_open_exactly_those_ledger_rows(admin_client):
    # given: 100 added by an operator, 40 through a gateway with a bonus of 2 (a gift, not money received)
    customer = CustomerFactory(funds="100")
    money.balance_deposit(customer_id=customer.pk, amount="40", cause=LedgerEntry.Cause.GATEWAY)
    money.balance_deposit(customer_id=customer.pk, amount="2", cause=LedgerEntry.Cause.BONUS)

    # when
    html = _home(admin_client)

    # then
    url, card = re.search(r'href="([^"]+)" data-figure="deposits">(.*?)</a>', html, re.DOTALL).groups()
    assert f"<strong data-value>{format_money(Decimal('140'))}</strong>" in card
    listing = admin_client.get(url.replace("&amp;", "&"))
    assert listing.status_code == 200
    assert sorted(row.amount for row in listing.context["cl"].result_list) == [Decimal("40"), Decimal("100")]
