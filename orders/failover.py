"""Failover: an order its provider cannot take goes to the next of its service's alternates that can.

When: the provider refused `add` for a reason about itself (our funds there, the service gone or switched off,
our account), the provider is switched off or its circuit is open, or the order has waited more than
FAILOVER_AFTER_SECONDS at a provider answering Unavailable. Never for an order one of whose `add` calls went
unanswered (`may_exist_upstream`): it may exist upstream, and a second provider would deliver it twice.

Which: the service's alternates by priority, leaving out providers the order has been at, keeping the first
whose provider is ready, whose catalogue row (providers.alternates) is still listed upstream, of the order's
type and takes its quantity (and drip-feed), and whose cost leaves FAILOVER_MIN_MARGIN_PERCENT over it at the
price the customer paid (providers.pricing.keeps_margin): never sold at a loss.

The move itself is orders.lifecycle.move_to_alternates: the order goes back to paid at the new provider, with a
row in OrderAttempt naming the provider left, why, and the alternates passed over. The customer sees nothing:
the order stays Pending, and polling, refills and cancels follow `Order.provider`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders import lifecycle
from orders.models import Order, OrderAttempt, Stage
from providers import health
from providers.alternates import catalogue_entries, cost_in_panel_currency, known_exchange_rates
from providers.models import Provider, Service, ServiceAlternate
from providers.ordertypes import ORDER_TYPES, SUBSCRIPTIONS
from providers.pricing import PanelAmount, keeps_margin, margin_percent

logger = logging.getLogger(__name__)

# Paid orders looked at per sweep; the rest wait for the next one.
SWEEP_BATCH = 500
UNAVAILABLE_PREFIX = "Unavailable"  # how orders.pipeline.send words the last error of an Unavailable answer


@dataclass
class Plan:
    """Where one order can go: the provider and its service id there, or None; and why the others were not."""

    provider: Provider | None = None
    upstream_service: str = ""
    skipped: list[str] = field(default_factory=list)


def fit_refusal(order: Order, entry: Service) -> str | None:
    """Why the catalogue row `entry` cannot take `order` (its type, limits, drip-feed), or None."""
    if not entry.available_upstream:
        return "no longer listed upstream"
    if entry.type != order.service.type:
        return f"type {entry.type}"
    order_type = ORDER_TYPES.get(entry.type)
    if order_type is None:
        return f"unknown type {entry.type}"
    if order_type.name == SUBSCRIPTIONS:
        low, high = order.sub_min or 0, order.sub_max or 0
        if low < entry.min or high > entry.max:
            return f"takes {entry.min}..{entry.max}, not {low}..{high}"
    elif not order_type.per_package and not entry.min <= order.quantity <= entry.max:
        return f"takes {entry.min}..{entry.max}, not {order.quantity}"
    if order.runs and not entry.dripfeed:
        return "no drip-feed"
    return None


def _readiness_refusal(provider: Provider, now: datetime) -> str | None:
    if not provider.is_active:
        return "inactive"
    if health.provider_circuit_open(provider, now=now):
        return "circuit open"
    if health.provider_paused(provider, now=now):
        return "asked us to wait (429)"
    return None


def plan_failovers(orders: list[Order], *, now: datetime) -> dict[int, Plan]:
    """Where each order can go. `orders` carry their service (select_related). A fixed number of queries,
    whatever the number of orders: their alternates, the providers they have been at, the catalogue rows,
    the exchange rates."""
    if not orders:
        return {}
    alternates: dict[int, list[ServiceAlternate]] = {}
    for alternate in ServiceAlternate.objects.filter(service_id__in={o.service_id for o in orders}) \
            .select_related("provider").order_by("priority", "id"):
        alternates.setdefault(alternate.service_id, []).append(alternate)
    tried: dict[int, set[int]] = {}
    for order_id, provider_id in OrderAttempt.objects.filter(order_id__in=[o.pk for o in orders]) \
            .values_list("order_id", "provider_id"):
        tried.setdefault(order_id, set()).add(provider_id)
    wanted = {(a.provider_id, a.upstream_service_id) for group in alternates.values() for a in group}
    entries = catalogue_entries(wanted)
    rates = known_exchange_rates({e.provider.currency for e in entries.values()})
    minimum = settings.FAILOVER_MIN_MARGIN_PERCENT
    plans: dict[int, Plan] = {}
    for order in orders:
        plan = plans[order.pk] = Plan()
        if order.may_exist_upstream:
            plan.skipped.append("an earlier `add` went unanswered: the order may exist at its provider")
            continue
        been = tried.get(order.pk, set()) | {order.provider_id}
        for alternate in alternates.get(order.service_id, []):
            if alternate.provider_id in been:
                continue
            provider, name = alternate.provider, alternate.provider.name
            entry = entries.get((alternate.provider_id, alternate.upstream_service_id))
            refusal = _readiness_refusal(provider, now)
            if refusal is None and entry is None:
                refusal = f"service {alternate.upstream_service_id} not in its synced catalogue"
            if refusal is None:
                refusal = fit_refusal(order, entry)
            if refusal is None and entry.provider.currency.upper() not in rates:
                refusal = f"no exchange rate for {entry.provider.currency}"
            if refusal is None:
                cost = cost_in_panel_currency(entry, rates)
                if not keeps_margin(rate=PanelAmount(order.rate), cost=cost, min_margin_percent=minimum):
                    margin = margin_percent(rate=order.rate, cost=cost)
                    refusal = f"margin {margin}% under {minimum}% (cost {cost:.5f} per 1000)"
            if refusal is not None:
                plan.skipped.append(f"{name}: {refusal}")
                continue
            plan.provider, plan.upstream_service = provider, alternate.upstream_service_id
            break
    return plans


def order_fail_over(*, order_id: int, reason: str, now: datetime | None = None,
                    sources: tuple[str, ...] = (Stage.SENDING,)) -> Plan:
    """Move one order (at one of `sources`) to its service's next fitting alternate, and queue its sending
    there once committed. Returns the plan: `provider` None when no alternate fits (nothing changed), or when
    the order moved on meanwhile (a lost race changes nothing either)."""
    now = now or timezone.now()
    order = Order.objects.select_related("service", "provider").get(pk=order_id)
    plan = plan_failovers([order], now=now)[order.pk]
    if plan.provider is not None and not _move({order.pk: (order, plan, reason)}, now=now, sources=sources):
        plan.provider = None
    return plan


def _move(chosen: dict[int, tuple[Order, Plan, str]], *, now: datetime, sources: tuple[str, ...]) -> list[int]:
    """The moves and their OrderAttempt rows, in one transaction (a few statements whatever their number);
    each moved order's sending is queued once it commits. Returns the ids moved."""
    moves = {order.pk: (order.provider_id, plan.provider.pk, plan.upstream_service,
                        f"Moved to {plan.provider.name}: {reason}"[:2000])
             for order, plan, reason in chosen.values()}
    with transaction.atomic():
        moved = lifecycle.move_to_alternates(moves=moves, sources=sources, now=now)
        OrderAttempt.objects.bulk_create(
            OrderAttempt(order_id=pk, provider_id=order.provider_id,
                         upstream_service=order.upstream_service or order.service.upstream_service_id,
                         reason=reason[:500], skipped="\n".join(plan.skipped), moved_to=plan.provider, at=now)
            for pk, (order, plan, reason) in ((pk, chosen[pk]) for pk in moved))
        for order_id in moved:
            transaction.on_commit(partial(_enqueue_send, order_id), robust=True)
    for order_id in moved:
        order, plan, reason = chosen[order_id]
        logger.warning("order %s moved from provider %s to %s: %s", order_id, order.provider.name,
                       plan.provider.name, reason)
    return moved


def _enqueue_send(order_id: int) -> None:
    from orders.tasks import order_send_task

    order_send_task.delay(order_id)


def orders_waiting_for_failover(*, now: datetime, limit: int = SWEEP_BATCH) -> list[Order]:
    """Paid orders with alternates that their provider cannot take: it is switched off or its circuit is
    open, or it has answered Unavailable to them for longer than FAILOVER_AFTER_SECONDS. Oldest first."""
    unready = [p.pk for p in Provider.objects.only("id", "is_active", "circuit_open_until")
               if not p.is_active or health.provider_circuit_open(p, now=now)]
    waited_since = now - timedelta(seconds=settings.FAILOVER_AFTER_SECONDS)
    waiting = Q(last_error__startswith=UNAVAILABLE_PREFIX) & Q(since__lte=waited_since)
    return list(
        Order.objects.filter(lifecycle.at_stage(Stage.PAID), may_exist_upstream=False)
        .annotate(since=Coalesce("provider_since", "created_at"))
        .filter(Q(provider_id__in=unready) | waiting)
        # An alternate that could take it now: orders with none wait, and do not crowd out those with one.
        .filter(Exists(ServiceAlternate.objects.filter(service_id=OuterRef("service_id"), provider__is_active=True)
                       .exclude(provider__circuit_open_until__gt=now)))
        .select_related("service", "provider").order_by("id")[:limit])


def _sweep_reason(order: Order, now: datetime) -> str:
    if not order.provider.is_active:
        return "the provider is switched off"
    if health.provider_circuit_open(order.provider, now=now):
        return "the provider's circuit is open"
    return f"waited more than {settings.FAILOVER_AFTER_SECONDS} s at the provider ({order.last_error})"


def orders_fail_over_waiting(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Move every waiting order (orders_waiting_for_failover) that an alternate can take, and queue their
    sending. Returns how many moved. A fixed number of queries whatever the number of orders."""
    now = now or timezone.now()
    orders = orders_waiting_for_failover(now=now, limit=limit)
    plans = plan_failovers(orders, now=now)
    chosen = {order.pk: (order, plans[order.pk], _sweep_reason(order, now)) for order in orders
              if plans[order.pk].provider is not None}
    return len(_move(chosen, now=now, sources=(Stage.PAID,))) if chosen else 0
