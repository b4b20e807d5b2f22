"""Reads for the admin dashboard and home: orders by status, money per day, provider health, unknown orders."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.money import ZERO, quantize
from orders import lifecycle
from orders.models import Order, Stage
from providers import health
from providers.models import Provider
from providers.pricing import ProviderAmount, to_panel_currency
from providers.selectors import MissingExchangeRate, exchange_rate_for, exchange_rates_for


def _rates(currencies) -> dict[str, Decimal | None]:
    """Panel-currency units per unit of each currency; None where no rate is set (cost then unknown)."""
    wanted = {c.upper() for c in currencies}
    try:
        return dict(exchange_rates_for(currencies=wanted))  # one query, or none when all are the panel's
    except MissingExchangeRate:
        pass
    rates: dict[str, Decimal | None] = {}
    for currency in wanted:
        try:
            rates[currency] = exchange_rate_for(currency=currency)
        except MissingExchangeRate:
            rates[currency] = None  # shown as an unknown cost rather than a wrong one
    return rates


# An order's upstream cost is its `upstream_charge`: the `charge` of the provider's latest status answer. A
# provider answers what the order costs us at that moment, so after its own refund of a Partial or Canceled
# order the answer is the charge less that refund (this panel's /api/v2 and the simulator answer so). Summing
# it is therefore what the provider's balance really dropped by; subtracting a refund again would count it twice.


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
    """Orders per stage, with the stage's name in operator words ("Final", not `final`)."""
    rows = Order.objects.values("stage").annotate(count=Count("id")).order_by("stage")
    labels = dict(Stage.choices)
    return [{**row, "label": labels.get(row["stage"], row["stage"])} for row in rows]


def attention_counts() -> dict[str, int]:
    """Orders an operator must look at: outcome unknown, and flagged with an attention note. One query."""
    return Order.objects.aggregate(unknown=Count("id", filter=lifecycle.at_stage(Stage.UNKNOWN)),
                                   flagged=Count("id", filter=~Q(attention="")))


def first_day(*, days: int, now: dt.datetime | None = None) -> dt.date:
    """The first of the last `days` days, today (in the server's time zone) being the last."""
    return timezone.localdate(now or timezone.now()) - dt.timedelta(days=days - 1)


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def money_per_day(*, days: int = 30, now: dt.datetime | None = None) -> list[dict]:
    """Per day (of order creation, the last `days` days including today), newest first: orders, revenue
    (charge − our refunds), upstream cost (see above), profit, all in the panel currency. Days without orders
    are left out. Two queries at most (orders, exchange rates of foreign currencies)."""
    since = day_start(first_day(days=days, now=now))
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


def unknown_orders_by_provider() -> list[dict]:
    """Per provider with unknown orders: how many, how many of them its policy refunded already, the oldest
    send among them, and the policy. One query."""
    rows = (Order.objects.filter(lifecycle.at_stage(Stage.UNKNOWN)).order_by()
            .values("provider_id", "provider__name", "provider__unknown_policy", "provider__unknown_refund_after_hours")
            .annotate(count=Count("id"), refunded=Count("id", filter=Q(refunded__gt=ZERO)),
                      oldest=Min(Coalesce("sending_started_at", "created_at")))
            .order_by("-count", "provider__name"))
    return [{"provider_id": row["provider_id"], "provider": row["provider__name"], "count": row["count"],
             "refunded": row["refunded"], "held": row["count"] - row["refunded"], "oldest": row["oldest"],
             "policy": row["provider__unknown_policy"], "after_hours": row["provider__unknown_refund_after_hours"]}
            for row in rows]
