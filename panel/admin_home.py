"""The admin home: today's money, the last 30 days as bar charts, and what is waiting for a person, each
linked to the filtered list that shows it.

A fixed number of queries whatever the number of orders, customers, providers or days: every figure is one
grouped or counted query (orders.reports, accounts.reports), and each section is read only for staff who may
view its model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from accounts import reports as money_in
from accounts.money import ZERO
from orders import reports
from orders.models import Stage
from providers.admin_filters import CONDITIONS, providers_matching
from providers.models import Provider
from providers.pricing import format_money

CHART_DAYS = 30
# The charts' drawing box (SVG user units); the picture scales to the width it is given.
CHART_HEIGHT = 100
BAR_PITCH = 10
BAR_WIDTH = 7


@dataclass(frozen=True)
class Bar:
    # Coordinates are text: a template would print a number in the active language's format (1,5).
    x: str
    y: str
    height: str
    negative: bool
    title: str
    url: str


def _svg_number(value: Decimal | float) -> str:
    return f"{float(value):.2f}"


def _changelist(name: str, **params) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def bar_chart(values: list, *, days: list[dt.date], kind: str, url_for) -> dict:
    """Bars for one value per day, scaled to the box; negative values (a loss) hang below the baseline."""
    top = max([*values, ZERO])
    bottom = min([*values, ZERO])
    span = (top - bottom) or Decimal(1)
    baseline = Decimal(CHART_HEIGHT) * top / span
    bars = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = Decimal(CHART_HEIGHT) * abs(value) / span
        y = baseline - height if value >= 0 else baseline
        shown = str(value) if kind == "count" else format_money(value)
        bars.append(Bar(x=_svg_number(index * BAR_PITCH + (BAR_PITCH - BAR_WIDTH) / 2), y=_svg_number(y),
                        height=_svg_number(max(height, Decimal("0.5")) if value else 0), negative=value < 0,
                        title=f"{day:%a %d %b}: {shown}", url=url_for(day)))
    return {"bars": bars, "baseline": _svg_number(baseline), "width": CHART_DAYS * BAR_PITCH,
            "height": CHART_HEIGHT, "top": top, "bottom": bottom, "total": sum(values, ZERO if kind != "count" else 0)}


def _money_series(*, days: list[dt.date], now: dt.datetime, with_deposits: bool) -> dict:
    per_day = {row["day"]: row for row in reports.money_per_day(days=CHART_DAYS, now=now)}
    deposits = money_in.deposits_per_day(since=reports.day_start(days[0])) if with_deposits else {}
    empty = {"orders": 0, "revenue": ZERO, "cost": ZERO, "profit": ZERO, "cost_known": True}
    rows = [per_day.get(day, empty) for day in days]
    return {
        "orders": [row["orders"] for row in rows],
        "revenue": [row["revenue"] for row in rows],
        "cost": [row["cost"] for row in rows],
        "profit": [row["profit"] for row in rows],
        "deposits": [deposits.get(day) or ZERO for day in days],
        "cost_known": all(row["cost_known"] for row in rows),
    }


def money_section(*, now: dt.datetime, with_deposits: bool) -> dict:
    """Today's figures and the last 30 days' charts. Two or three queries (orders, rates, ledger)."""
    first = reports.first_day(days=CHART_DAYS, now=now)
    days = [first + dt.timedelta(days=n) for n in range(CHART_DAYS)]
    today = days[-1]
    series = _money_series(days=days, now=now, with_deposits=with_deposits)

    def orders_on(day: dt.date) -> str:
        return _changelist("orders_order", created_at__date=day.isoformat())

    def deposits_on(day: dt.date) -> str:
        return _changelist("accounts_ledgerentry", **money_in.money_in_filter(), created_at__date=day.isoformat())

    # (key, title, kind, the list a bar opens)
    charts = [("revenue", "Revenue", "money", orders_on), ("profit", "Profit", "money", orders_on),
              ("orders", "Orders", "count", orders_on)]
    if with_deposits:
        charts.append(("deposits", "Deposits", "money", deposits_on))
    figures = [
        {"key": "revenue", "title": "Revenue", "value": series["revenue"][-1], "url": orders_on(today),
         "help": "Charges of today's orders less what was refunded"},
        {"key": "cost", "title": "Upstream cost", "value": series["cost"][-1], "url": orders_on(today),
         "help": "What the providers charged for them, less their refunds"},
        {"key": "profit", "title": "Profit", "value": series["profit"][-1], "url": orders_on(today),
         "help": "Revenue less upstream cost"},
    ]
    if with_deposits:
        figures.append({"key": "deposits", "title": "Deposits", "value": series["deposits"][-1],
                        "url": deposits_on(today), "help": "Money customers added today (bonuses left out)"})
    for figure in figures:
        figure["total"] = sum(series[figure["key"]], ZERO)
        figure["negative"] = figure["value"] < 0
    return {
        "today": today, "first": first, "figures": figures, "orders_today": series["orders"][-1],
        "cost_known": series["cost_known"],
        "charts": [{"key": key, "title": title, "kind": kind,
                    **bar_chart(series[key], days=days, kind=kind, url_for=url_for)}
                   for key, title, kind, url_for in charts],
    }


def _item(label: str, count: int, url: str, *, hint: str = "") -> dict:
    return {"label": label, "count": count, "url": url, "hint": hint}


def attention_section(*, user) -> list[dict]:
    """What waits for a person, each with its count and the filtered list. One query per kind of thing."""
    items = []
    if user.has_perm("orders.view_order"):
        counts = reports.attention_counts()
        items.append(_item("Orders with an unknown outcome", counts["unknown"],
                           _changelist("orders_order", stage=Stage.UNKNOWN),
                           hint="Sent, but the provider's answer was lost: resolve them one by one or in bulk"))
        items.append(_item("Flagged orders", counts["flagged"], _changelist("orders_order", flagged="yes"),
                           hint="An id the provider keeps refusing, a status word the panel does not know, ..."))
    waiting = None
    if user.has_perm("accounts.view_paymentrequest"):
        waiting = money_in.payments_waiting()
        items.append(_item("Payment requests to decide", waiting["payment_requests"],
                           _changelist("accounts_paymentrequest", status__exact="pending"),
                           hint="Approve or reject each on its own page"))
    if user.has_perm("accounts.view_deposit"):
        waiting = waiting or money_in.payments_waiting()
        items.append(_item("Deposits held for review", waiting["review"],
                           _changelist("accounts_deposit", status__exact="review"),
                           hint="A wrong amount or currency arrived: credit what was received, or mark failed"))
        items.append(_item("Deposits waiting for the payer", waiting["open"],
                           _changelist("accounts_deposit", status__in="created,pending"),
                           hint="Checked with the gateway by the periodic check; they expire by themselves"))
    if user.has_perm("support.view_ticket"):
        from support.models import Ticket

        open_tickets = Ticket.objects.filter(state=Ticket.State.OPEN).count()
        items.append(_item("Open tickets", open_tickets, _changelist("support_ticket", state__exact="open"),
                           hint="Customers waiting for an answer"))
    return items


def providers_section(*, user, now: dt.datetime) -> dict | None:
    """Active providers with a low balance, an open circuit or a pause asked for. One query."""
    if not user.has_perm("providers.view_provider"):
        return None
    providers = list(Provider.objects.filter(is_active=True).order_by("name"))
    rows = []
    for provider in providers:
        problems = [label for label, check in CONDITIONS.values() if check(provider, now)]
        if problems:
            rows.append({"provider": provider, "problems": problems,
                         "url": reverse("admin:providers_provider_change", args=[provider.pk])})
    counts = [{"label": label, "count": len(providers_matching(providers, key, now=now)),
               "url": _changelist("providers_provider", health=key)} for key, (label, _check) in CONDITIONS.items()]
    return {"rows": rows, "counts": counts, "total": len(providers)}


def home_context(*, user, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    money = None
    if user.has_perm("orders.view_order"):
        money = money_section(now=now, with_deposits=user.has_perm("accounts.view_ledgerentry"))
    return {
        "money": money,
        "attention": attention_section(user=user),
        "providers": providers_section(user=user, now=now),
        "links": _links(user),
    }


def _links(user) -> list[dict]:
    links = []
    if user.has_perm("orders.view_order"):
        links.append({"label": "Orders dashboard", "url": reverse("admin:orders_dashboard")})
        links.append({"label": "All orders", "url": _changelist("orders_order")})
    if user.has_perm("accounts.view_customer"):
        links.append({"label": "Customers", "url": _changelist("accounts_customer")})
    if user.has_perm("audit.view_auditentry"):
        links.append({"label": "Audit log", "url": _changelist("audit_auditentry")})
    return links
