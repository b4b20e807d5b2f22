"""Sale prices: conversion, the markup rules from most to least specific, rounding, the cost floor."""

from decimal import Decimal

import pytest

from providers.models import Service, ServiceChange
from providers.ordertypes import CUSTOM_COMMENTS, CUSTOM_COMMENTS_PACKAGE, DEFAULT, ORDER_TYPES, PACKAGE
from providers.pricing import (
    PACKAGE_UNITS,
    PricingError,
    ProviderAmount,
    charge_for,
    customer_rate,
    discounted_rate,
    margin_percent,
    markup_for,
    refund_units,
    sale_rate,
    subscription_units,
    to_panel_currency,
    units_for,
)
from providers.selectors import MissingExchangeRate, exchange_rate_for
from providers.services import (
    ProviderError,
    category_save,
    exchange_rate_set,
    provider_create,
    service_move_to_category,
    service_reprice,
    service_set_active,
    service_set_markup,
)
from tests.factories import CategoryFactory, ProviderFactory, ServiceFactory

D = Decimal


def test_markup_applies_to_the_converted_cost(settings):
    settings.PANEL_PRICE_DECIMALS = 4

    rate = sale_rate(upstream_rate=D("2"), exchange_rate=D("1"), fixed_rate=None, markup_percent=D("25"))

    assert rate == D("2.5")


def test_fixed_rate_wins_over_any_markup():
    rate = sale_rate(upstream_rate=D("1"), exchange_rate=D("1"), fixed_rate=D("3.33333"), markup_percent=D("500"))

    assert rate == D("3.33333")


def test_markup_rule_service_over_category_over_provider_over_default(settings):
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")

    assert markup_for(service_markup=D("5"), category_markup=D("10"), provider_markup=D("20")) == D("5")
    assert markup_for(service_markup=None, category_markup=D("10"), provider_markup=D("20")) == D("10")
    assert markup_for(service_markup=None, category_markup=None, provider_markup=D("20")) == D("20")
    assert markup_for(service_markup=None, category_markup=None, provider_markup=None) == D("30")
    # zero is a markup that is set, not a missing one
    assert markup_for(service_markup=D("0"), category_markup=D("10"), provider_markup=None) == D("0")


def test_rounding_is_up_to_the_panel_decimals(settings):
    settings.PANEL_PRICE_DECIMALS = 2

    # 0.333 × 1.10 = 0.3663 → 0.37 (never 0.36)
    rate = sale_rate(upstream_rate=D("0.333"), exchange_rate=D("1"), fixed_rate=None, markup_percent=D("10"))

    assert rate == D("0.37")


def test_rounding_keeps_an_exact_price_exact(settings):
    settings.PANEL_PRICE_DECIMALS = 2

    rate = sale_rate(upstream_rate=D("1.00"), exchange_rate=D("1"), fixed_rate=None, markup_percent=D("20"))

    assert rate == D("1.20")


def test_price_never_falls_below_the_converted_cost(settings):
    settings.PANEL_PRICE_DECIMALS = 2

    below = sale_rate(upstream_rate=D("2.001"), exchange_rate=D("1"), fixed_rate=D("1.50"), markup_percent=D("0"))
    zero_markup = sale_rate(upstream_rate=D("0.0001"), exchange_rate=D("1"), fixed_rate=None,
                            markup_percent=D("0"))

    assert below == D("2.01")  # the cost, rounded up
    assert zero_markup == D("0.01")


def test_exchange_rate_converts_before_the_markup(settings):
    settings.PANEL_PRICE_DECIMALS = 4

    # 100 units of a currency worth 0.011 panel units each: cost 1.1, +50 % = 1.65
    rate = sale_rate(upstream_rate=D("100"), exchange_rate=D("0.011"), fixed_rate=None, markup_percent=D("50"))

    assert rate == D("1.65")


def test_exchange_rate_must_be_positive():
    with pytest.raises(PricingError):
        sale_rate(upstream_rate=D("1"), exchange_rate=D("0"), fixed_rate=None, markup_percent=D("10"))


def test_margin_percent():
    assert margin_percent(rate=D("1.3"), cost=D("1")) == D("30.00")
    assert margin_percent(rate=D("1"), cost=D("0")) is None


def test_to_panel_currency_converts_at_the_exchange_rate_unrounded():
    # 12 500 IDR at 0.000063 USD each
    assert to_panel_currency(ProviderAmount(D("12500")), exchange_rate=D("0.000063")) == D("0.7875")
    assert to_panel_currency(ProviderAmount(D("3.5")), exchange_rate=D("1")) == D("3.5")
    for bad in (D("0"), D("-1")):
        with pytest.raises(PricingError):
            to_panel_currency(ProviderAmount(D("1")), exchange_rate=bad)


def test_charge_for_is_per_1000_units_at_the_money_precision():
    assert charge_for(rate=D("2.00"), units=1500) == D("3.00000")
    assert charge_for(rate=D("10"), units=3) == D("0.03000")
    assert charge_for(rate=D("1.23457"), units=0) == D("0")


def test_charge_for_rounds_half_up_at_the_fifth_decimal():
    # 0.14885 × 500 / 1000 = 0.074425 exactly: half up gives 0.07443 (binary floats in a browser gave 0.07442)
    assert charge_for(rate=D("0.14885"), units=500) == D("0.07443")
    assert charge_for(rate=D("0.14883"), units=500) == D("0.07442")  # 0.074415 -> up as well
    assert charge_for(rate=D("0.00001"), units=499) == D("0.00000")  # 0.00000499 -> down


def test_a_package_counts_as_1000_units_and_costs_its_rate():
    package = ORDER_TYPES[PACKAGE]

    units = units_for(package, quantity=1)

    assert units == PACKAGE_UNITS == 1000
    assert charge_for(rate=D("2.50"), units=units) == D("2.50")
    assert units_for(ORDER_TYPES[CUSTOM_COMMENTS_PACKAGE], quantity=1) == 1000


def test_units_for_quantity_lines_and_drip_feed():
    assert units_for(ORDER_TYPES[DEFAULT], quantity=150) == 150
    assert units_for(ORDER_TYPES[DEFAULT], quantity=150, runs=4) == 600
    assert units_for(ORDER_TYPES[CUSTOM_COMMENTS], quantity=12) == 12


def test_refund_units_counts_undelivered_packages_as_1000_units():
    assert refund_units(remains=2, per_package=True) == 2000
    assert refund_units(remains=400, per_package=False) == 400
    assert refund_units(remains=0, per_package=True) == 0


def test_subscription_units_are_posts_times_max():
    assert subscription_units(posts=5, post_max=200) == 1000
    assert subscription_units(posts=3, post_max=None) == 0


def test_discounted_rate_and_customer_rate():
    assert discounted_rate(rate=D("3.00"), discount_percent=D("10")) == D("2.70000")
    assert discounted_rate(rate=D("1.20"), discount_percent=D("0")) == D("1.20")
    # half up at the money precision: 0.00003 × 0.5 = 0.000015 -> 0.00002
    assert discounted_rate(rate=D("0.00003"), discount_percent=D("50")) == D("0.00002")
    assert customer_rate(service=Service(rate=D("2.00")), discount_percent=D("12.5")) == D("1.75000")


@pytest.mark.django_db
def test_exchange_rate_lookup(settings):
    settings.PANEL_CURRENCY = "USD"
    exchange_rate_set(currency="idr", rate="0.000063")

    assert exchange_rate_for(currency="USD") == D("1")
    assert exchange_rate_for(currency="IDR") == D("0.000063")
    with pytest.raises(MissingExchangeRate, match="EUR"):
        exchange_rate_for(currency="EUR")


@pytest.mark.django_db
def test_provider_create_validates_url_currency_markup_and_name():
    provider = provider_create(name="Up", api_url="https://up.example/api/v2", api_key="k", currency="eur",
                               markup_percent="12.5")

    assert (provider.currency, provider.markup_percent) == ("EUR", D("12.5"))
    for bad in (
        dict(api_url="ftp://x/api"), dict(api_url="not a url"), dict(currency="EURO"), dict(markup_percent="-1"),
        dict(markup_percent="abc"), dict(api_key=" "), dict(name=""), dict(name="Up"),
    ):
        kwargs = dict(name="Other", api_url="https://o.example/api/v2", api_key="k") | bad
        with pytest.raises(ProviderError):
            provider_create(**kwargs)
    assert [p.name for p in type(provider).objects.all()] == ["Up"]


@pytest.mark.django_db
def test_reprice_follows_the_most_specific_rule(settings):
    # given a provider at 20 %, a category at 10 %, and one service at 5 %
    settings.PANEL_PRICE_DECIMALS = 4
    provider = ProviderFactory(markup_percent=D("20"))
    category = CategoryFactory(markup_percent=None)
    plain = ServiceFactory(provider=provider, category=category, upstream_rate=D("1"), rate=D("0"))
    own = ServiceFactory(provider=provider, category=category, upstream_rate=D("1"), rate=D("0"),
                         markup_percent=D("5"))
    fixed = ServiceFactory(provider=provider, category=category, upstream_rate=D("1"), rate=D("0"),
                           fixed_rate=D("9"))

    # when
    service_reprice(service_ids=[plain.pk, own.pk, fixed.pk])
    category.markup_percent = D("10")
    category_save(category=category)

    # then
    plain.refresh_from_db(), own.refresh_from_db(), fixed.refresh_from_db()
    assert (plain.rate, own.rate, fixed.rate) == (D("1.1"), D("1.05"), D("9"))
    assert ServiceChange.objects.filter(service=plain, field="rate").count() == 2


@pytest.mark.django_db
def test_missing_exchange_rate_changes_nothing(settings):
    settings.PANEL_CURRENCY = "USD"
    service = ServiceFactory(provider=ProviderFactory(currency="EUR"), upstream_rate=D("1"), rate=D("7"))

    with pytest.raises(MissingExchangeRate):
        service_reprice(service_ids=[service.pk])

    service.refresh_from_db()
    assert service.rate == D("7")


@pytest.mark.django_db
def test_saving_an_exchange_rate_reprices_services_in_that_currency(settings):
    settings.PANEL_CURRENCY, settings.PANEL_DEFAULT_MARKUP_PERCENT = "USD", D("0")
    eur = ServiceFactory(provider=ProviderFactory(currency="EUR"), upstream_rate=D("10"), rate=D("0"))
    usd = ServiceFactory(provider=ProviderFactory(currency="USD"), upstream_rate=D("10"), rate=D("3"))

    _, repriced = exchange_rate_set(currency="EUR", rate="1.08")

    eur.refresh_from_db(), usd.refresh_from_db()
    assert repriced == 1
    assert (eur.rate, usd.rate) == (D("10.8"), D("3"))


@pytest.mark.django_db
def test_bulk_markup_activate_and_move(settings):
    settings.PANEL_DEFAULT_MARKUP_PERCENT = D("30")
    one, two = ServiceFactory.create_batch(2, upstream_rate=D("2"), rate=D("0"))
    gone = ServiceFactory(upstream_rate=D("2"), is_active=False, available_upstream=False)
    target = CategoryFactory(markup_percent=D("50"))

    assert service_set_markup(service_ids=[one.pk, two.pk], markup_percent="10") == 2
    assert list(Service.objects.filter(pk__in=[one.pk, two.pk]).values_list("rate", flat=True)) == [D("2.2")] * 2
    with pytest.raises(ProviderError):
        service_set_markup(service_ids=[one.pk], markup_percent="-5")

    # clearing the service markup falls back to the new category's
    service_set_markup(service_ids=[one.pk], markup_percent=None)
    service_move_to_category(service_ids=[one.pk], category=target)
    one.refresh_from_db()
    assert (one.category, one.rate) == (target, D("3"))

    # a service gone upstream cannot be switched on by hand
    assert service_set_active(service_ids=[one.pk, gone.pk], active=False) == 2
    assert service_set_active(service_ids=[one.pk, gone.pk], active=True) == 1
    gone.refresh_from_db()
    assert not gone.is_active
