"""Reads for the admin dashboard: orders by status, money per day, provider health."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.money import ZERO, quantize
from orders import lifecycle
from orders.models import Order, Stage
from providers import health
from providers.models import Provider
from providers.pricing import ProviderAmount, to_panel_currency
from providers.selectors import MissingExchangeRate, exchange_rate_for


def _rates(currencies) -> dict[str, Decimal | None]:
    """Panel-currency units per unit of each currency; None where no rate is set (cost then unknown)."""
    rates: dict[str, Decimal | None] = {}
    for currency in {c.upper() for c in currencies}:
        try:
            rates[currency] = exchange_rate_for(currency=currency)
        except MissingExchangeRate:
            rates[currency] = None  # shown as an unknown cost rather than a wrong one
    return rates


def order_profit(order: Order) -> Decimal | None:
    """What the panel keeps on one order: charge − refunded − upstream cost (in the panel currency)."""
    if order.upstream_charge is None:
        return None
    rate = _rates([order.provider.currency]).get(order.provider.currency.upper())
    if rate is None:
        return None
    cost = to_panel_currency(ProviderAmount(order.upstream_charge), exchange_rate=rate)
    return quantize(order.charge - order.refunded - cost)


def orders_by_status() -> list[dict]:
    return list(Order.objects.values("status").annotate(count=Count("id")).order_by("-count"))


def orders_by_stage() -> list[dict]:
    return list(Order.objects.values("stage").annotate(count=Count("id")).order_by("stage"))


def money_per_day(*, days: int = 30) -> list[dict]:
    """Per day (of order creation): orders, revenue (charge − refunded), upstream cost, profit (panel currency)."""
    since = timezone.now() - dt.timedelta(days=days)
    rows = (Order.objects.filter(created_at__gte=since).exclude(lifecycle.at_stage(Stage.FAILED))
            .annotate(day=TruncDate("created_at")).values("day", "provider__currency")
            .annotate(orders=Count("id"), charge=Sum("charge"), refunded=Sum("refunded"),
                      cost=Sum("upstream_charge")))
    rates = _rates({row["provider__currency"] for row in rows})
    per_day: dict[dt.date, dict] = defaultdict(lambda: {"orders": 0, "revenue": ZERO, "cost": ZERO,
                                                       "cost_known": True})
    for row in rows:
        day = per_day[row["day"]]
        day["orders"] += row["orders"]
        day["revenue"] += (row["charge"] or ZERO) - (row["refunded"] or ZERO)
        rate = rates.get(row["provider__currency"].upper())
        if rate is None:
            day["cost_known"] = False
        else:
            day["cost"] += to_panel_currency(ProviderAmount(row["cost"] or ZERO), exchange_rate=rate)
    result = []
    for day in sorted(per_day, reverse=True):
        values = per_day[day]
        result.append({"day": day, "orders": values["orders"], "revenue": quantize(values["revenue"]),
                       "cost": quantize(values["cost"]), "profit": quantize(values["revenue"] - values["cost"]),
                       "cost_known": values["cost_known"]})
    return result


def provider_health() -> list[dict]:
    now = timezone.now()
    active = dict(Order.objects.filter(lifecycle.at_stage(Stage.SENT)).values("provider").annotate(n=Count("id"))
                  .values_list("provider", "n"))
    attention = dict(Order.objects.exclude(attention="").values("provider").annotate(n=Count("id"))
                     .values_list("provider", "n"))
    result = []
    for provider in Provider.objects.all():
        result.append({"provider": provider, "active_orders": active.get(provider.pk, 0),
                       "attention": attention.get(provider.pk, 0),
                       "circuit_open": health.provider_circuit_open(provider, now=now),
                       "paused": health.provider_paused(provider, now=now),
                       "low_balance": health.provider_balance_is_low(provider)})
    return result
