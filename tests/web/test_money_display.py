"""One money formatter and one rounding rule (providers.pricing.format_money): a fixed number of decimals
(MONEY_DISPLAY_DECIMALS), half up, in the language's separators; on the customer pages, in the quote the
order form shows, and in the admin alike."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from accounts.money import MONEY_DECIMAL_PLACES
from providers.pricing import format_money, format_money_apart, money_plain, round_for_display
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory


@pytest.mark.parametrize("amount, shown", [
    (Decimal("0.07443"), "0.0744"),
    (Decimal("0.07445"), "0.0745"),  # half up, as a charge is rounded
    (Decimal("0.07455"), "0.0746"),  # not to even
    (Decimal("5"), "5.0000"),
    (Decimal("125.5"), "125.5000"),
    (Decimal("1234567.891"), "1,234,567.8910"),
    (Decimal("-0.35"), "-0.3500"),
    (Decimal("-0.00001"), "0.0000"),  # no minus zero
    (Decimal("0"), "0.0000"),
])
def test_amounts_show_four_decimals_rounded_half_up(amount, shown):
    with translation.override("en"):
        assert format_money(amount) == shown


def test_indonesian_uses_its_own_separators_for_the_same_figure():
    with translation.override("id"):
        assert format_money(Decimal("1234.07445")) == "1.234,0745"
        assert format_money(Decimal("0.455")) == "0,4550"


def test_the_setting_sets_the_decimals_everywhere_up_to_the_stored_precision(settings):
    settings.MONEY_DISPLAY_DECIMALS = 2
    with translation.override("en"):
        assert format_money(Decimal("12.345")) == "12.35"
        assert Template("{% load web_format %}{{ v|money }}").render(Context({"v": Decimal("0.005")})) == "0.01"
    settings.MONEY_DISPLAY_DECIMALS = 9  # more than an amount keeps: capped
    assert round_for_display(Decimal("0.074425")) == Decimal("0.07443")
    assert len(format_money(Decimal("1")).split(".")[1]) == MONEY_DECIMAL_PLACES


def test_two_amounts_that_would_look_alike_are_told_apart():
    with translation.override("en"):
        assert format_money_apart(Decimal("0.07443"), Decimal("0.07442")) == ["0.07443", "0.07442"]
        assert format_money_apart(Decimal("3"), Decimal("1.5")) == ["3.0000", "1.5000"]


def test_machine_figures_are_plain_whatever_the_language():
    with translation.override("id"):
        assert money_plain(Decimal("0.074425")) == "0.07443"


@pytest.mark.django_db
def test_every_customer_page_shows_the_same_decimals(client):
    # given: a balance of 5 decimals, a deposit of 2, a price of 4 and a charge of 5
    customer = CustomerFactory(funds=Decimal("10.5"))
    service = ServiceFactory(rate=Decimal("0.4550"), min=10, max=1000)
    OrderFactory(customer=customer, service=service, quantity=163, deposit=False)  # 0.074165 -> 0.07417
    client.force_login(customer.user)
    customer.refresh_from_db()
    assert customer.balance == Decimal("10.42583")

    # then: each shows four
    assert "10.4258" in client.get(reverse("dashboard")).content.decode()
    transactions = client.get(reverse("transactions")).content.decode()
    assert "+10.5000" in transactions and "-0.0742" in transactions and "10.4258" in transactions
    assert "0.4550" in client.get(reverse("services")).content.decode()
    assert ">0.0742" in client.get(reverse("orders")).content.decode()


@pytest.mark.django_db
def test_the_quote_gives_the_exact_charge_and_the_figure_to_show(client):
    customer = CustomerFactory(funds=Decimal("10"))
    service = ServiceFactory(rate=Decimal("0.14890"), min=10, max=1000)
    client.force_login(customer.user)
    client.cookies["django_language"] = "id"
    answer = client.get(reverse("order_quote"), {"service": service.pk, "quantity": "500"}).json()
    assert answer == {"charge": "0.07445", "display": "0,0745", "currency": "USD"}


@pytest.mark.django_db
def test_not_enough_funds_tells_the_two_amounts_apart(client):
    # given: a balance of 0.07442 and an order of 0.07443, the same at four decimals
    customer = CustomerFactory(funds=Decimal("0.07442"))
    service = ServiceFactory(rate=Decimal("0.14885"), min=10, max=1000)
    client.force_login(customer.user)
    page = client.post(reverse("order_new"), {"service": service.pk, "link": "https://instagram.com/p/x",
                                              "quantity": "500"}).content.decode()
    assert "costs 0.07443, your balance is 0.07442" in page


@pytest.mark.django_db
def test_the_admin_shows_amounts_with_the_same_formatter(admin_client):
    # given: a customer whose balance and an order whose charge have five decimals
    customer = CustomerFactory(funds=Decimal("10.5"))
    order = OrderFactory(customer=customer, service=ServiceFactory(rate=Decimal("0.4550")), quantity=163)
    assert order.charge == Decimal("0.07417")

    # then: lists and read-only fields show them as the customer pages do
    orders = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "0.0742" in orders and "0.07417" not in orders
    detail = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "0.0742" in detail and "0.07417" not in detail
    customers = admin_client.get(reverse("admin:accounts_customer_changelist")).content.decode()
    assert "10.5000" in customers and "10.50000" not in customers
    # and a decimal that is not an amount keeps its own places: the discount, a percentage
    assert ">0.00<" in customers
