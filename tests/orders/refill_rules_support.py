"""Orders and refills at chosen times, for the refill-rules tests (API, pages and browser)."""

from __future__ import annotations

from datetime import datetime

from orders.models import Order, Refill, RequestStage, RequestStatus, Stage, Status
from tests.factories import OrderFactory, ServiceFactory


def ruled_service(**rules):
    """A refill service with the operator's rules: 30 days, 2 per order, 24 h apart unless given."""
    rules = {"refill_days": 30, "refill_max": 2, "refill_cooldown_hours": 24, **rules}
    return ServiceFactory(refill=True, **rules)


def completed_order(customer, service, *, finished_at: datetime, status: str = Status.COMPLETED) -> Order:
    return OrderFactory(customer=customer, service=service, stage=Stage.FINAL, status=status,
                        upstream_id=f"up-{Order.objects.count() + 1}", finished_at=finished_at, remains=0)


def refill_at(order: Order, at: datetime, *, stage: str = RequestStage.FINAL,
              status: str = RequestStatus.COMPLETED) -> Refill:
    refill = Refill.objects.create(order=order, stage=stage, status=status)
    Refill.objects.filter(pk=refill.pk).update(created_at=at)
    return refill
