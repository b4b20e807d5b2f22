"""Reads for providers, services and prices."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from providers.models import ExchangeRate, Provider, Service
from providers.pricing import PricingError


class MissingExchangeRate(PricingError):
    def __init__(self, currency: str) -> None:
        super().__init__(
            f"No exchange rate for {currency} into {settings.PANEL_CURRENCY}: add one under Exchange rates"
        )
        self.currency = currency


def exchange_rates_for(*, currencies: Iterable[str]) -> dict[str, Decimal]:
    """Panel-currency units per unit of each currency, in one query. Raises MissingExchangeRate."""
    wanted = {currency.upper() for currency in currencies}
    rates = {currency: Decimal(1) for currency in wanted if currency == settings.PANEL_CURRENCY}
    foreign = wanted - rates.keys()
    if foreign:
        rates.update(ExchangeRate.objects.filter(currency__in=foreign).values_list("currency", "rate"))
    missing = sorted(wanted - rates.keys())
    if missing:
        raise MissingExchangeRate(missing[0])
    return rates


def exchange_rate_for(*, currency: str) -> Decimal:
    return exchange_rates_for(currencies=[currency])[currency.upper()]


def provider_get_by_name(*, name: str) -> Provider | None:
    return Provider.objects.filter(name=name).first()


def providers_active() -> QuerySet[Provider]:
    return Provider.objects.filter(is_active=True).order_by("name")


def services_orderable() -> QuerySet[Service]:
    """Services a customer may order now: active, at an active provider. The one definition of "orderable"."""
    return Service.objects.filter(is_active=True, provider__is_active=True)


def services_with_pricing(*, service_ids: Iterable[int]) -> QuerySet[Service]:
    """Services with what their price depends on (provider, category) in the same query."""
    return Service.objects.filter(pk__in=list(service_ids)).select_related("provider", "category")
