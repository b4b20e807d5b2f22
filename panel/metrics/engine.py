"""The order engine's state as Prometheus gauges, read from the database when /metrics is scraped.

Four aggregate queries whatever the number of orders: orders by stage and status; per provider, unknown
orders, poll lag and send lag; providers (breaker, 429 pause, upstream balance); deposits by gateway and
status. Being computed from the database, the values are the same whichever web process answers, and need
no multiprocess bookkeeping.

* poll lag: how long ago the provider's least recently polled sent order was polled (or sent, if never):
  it stays near PANEL_POLL_SECONDS while polling keeps up, and grows when it does not;
* send lag: how long the provider's oldest paid order due for sending has waited (since it was placed, or
  since its retry came due).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, DateTimeField, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from accounts.models import Deposit
from orders import lifecycle
from orders.models import Order, Stage
from providers import health
from providers.models import Provider


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


def _orders(now: datetime) -> list[GaugeMetricFamily]:
    by_state = GaugeMetricFamily("smm_orders", "Orders by stage (how far with the provider) and status.",
                                 labels=["stage", "status"])
    for stage, status, count in (Order.objects.order_by().values_list("stage", "status")
                                 .annotate(n=Count("id")).values_list("stage", "status", "n")):
        by_state.add_metric([stage, status], count)
    return [by_state]


def _per_provider(now: datetime, names: dict[int, str]) -> list[GaugeMetricFamily]:
    unknown = GaugeMetricFamily("smm_orders_unknown", "Orders whose `add` outcome is unknown, per provider.",
                                labels=["provider"])
    refunded = GaugeMetricFamily("smm_orders_unknown_refunded",
                                 "Unknown orders refunded by the provider's policy, per provider.", labels=["provider"])
    poll_lag = GaugeMetricFamily("smm_poll_lag_seconds", "Age of the least recently polled sent order, per provider.",
                                 labels=["provider"])
    send_lag = GaugeMetricFamily("smm_send_lag_seconds", "Age of the oldest paid order due for sending, per provider.",
                                 labels=["provider"])
    when = DateTimeField()
    rows = (Order.objects.filter(lifecycle.at_stage(Stage.SENT, Stage.PAID, Stage.UNKNOWN)).order_by()
            .values("provider_id")
            .annotate(unknown=Count("id", filter=lifecycle.at_stage(Stage.UNKNOWN)),
                      unknown_refunded=Count("id", filter=lifecycle.at_stage(Stage.UNKNOWN) & Q(refunded__gt=0)),
                      polled=Min(Coalesce("last_checked_at", "sent_at", "created_at", output_field=when),
                                 filter=lifecycle.at_stage(Stage.SENT)),
                      due=Min(Coalesce("next_attempt_at", "created_at", output_field=when),
                              filter=lifecycle.at_stage(Stage.PAID) & lifecycle.due(now))))
    seen = set()
    for row in rows:
        name = names.get(row["provider_id"], str(row["provider_id"]))
        seen.add(row["provider_id"])
        unknown.add_metric([name], row["unknown"])
        refunded.add_metric([name], row["unknown_refunded"])
        poll_lag.add_metric([name], _age(now, row["polled"]))
        send_lag.add_metric([name], _age(now, row["due"]))
    for pk, name in names.items():  # a provider with nothing open is at zero, not absent
        if pk not in seen:
            for family in (unknown, refunded, poll_lag, send_lag):
                family.add_metric([name], 0)
    return [unknown, refunded, poll_lag, send_lag]


def _providers(now: datetime, providers: list[Provider]) -> list[GaugeMetricFamily]:
    active = GaugeMetricFamily("smm_provider_active", "1 while the provider is switched on.", labels=["provider"])
    circuit = GaugeMetricFamily("smm_provider_circuit_open",
                                "1 while the provider's circuit breaker is open (too many failures in a row).",
                                labels=["provider"])
    paused = GaugeMetricFamily("smm_provider_paused", "1 while the provider asked us to wait (HTTP 429).",
                               labels=["provider"])
    balance = GaugeMetricFamily("smm_provider_balance", "Our balance at the provider as it last reported it, "
                                "in its currency.", labels=["provider", "currency"])
    low = GaugeMetricFamily("smm_provider_balance_low", "1 while that balance is under the provider's threshold.",
                            labels=["provider"])
    for provider in providers:
        active.add_metric([provider.name], int(provider.is_active))
        circuit.add_metric([provider.name], int(health.provider_circuit_open(provider, now=now)))
        paused.add_metric([provider.name], int(health.provider_paused(provider, now=now)))
        low.add_metric([provider.name], int(health.provider_balance_is_low(provider)))
        if provider.upstream_balance is not None:
            balance.add_metric([provider.name, provider.currency.upper()], float(provider.upstream_balance))
    return [active, circuit, paused, balance, low]


def _deposits() -> list[GaugeMetricFamily]:
    count = GaugeMetricFamily("smm_deposits", "Deposits by gateway and status.", labels=["gateway", "status"])
    amount = GaugeMetricFamily("smm_deposits_amount", "Sum of deposits' amounts by gateway, status and currency.",
                               labels=["gateway", "status", "currency"])
    counts: dict[tuple[str, str], int] = {}  # a gateway may take several currencies: counted together
    for gateway, status, currency, n, total in (
            Deposit.objects.order_by().values_list("gateway__name", "status", "currency")
            .annotate(n=Count("id"), total=Sum("amount"))
            .values_list("gateway__name", "status", "currency", "n", "total")):
        counts[gateway, status] = counts.get((gateway, status), 0) + n
        amount.add_metric([gateway, status, currency], float(total or 0))
    for (gateway, status), n in counts.items():
        count.add_metric([gateway, status], n)
    return [count, amount]


class EngineCollector(Collector):
    """Everything above, computed once per scrape."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now

    def collect(self):
        now = self.now or timezone.now()
        providers = list(Provider.objects.order_by("name").only(
            "id", "name", "currency", "is_active", "upstream_balance", "low_balance_threshold",
            "circuit_open_until", "retry_after_until"))
        names = {provider.pk: provider.name for provider in providers}
        yield from _orders(now)
        yield from _per_provider(now, names)
        yield from _providers(now, providers)
        yield from _deposits()
