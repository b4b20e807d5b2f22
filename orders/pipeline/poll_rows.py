"""The rows a poll works on: claimed and read in one statement, kept as plain objects, not model instances.

A poll reads what it needs once, when it claims the rows, and writes back by compare-and-set
(lifecycle.apply_upstream_statuses): at 5,000 orders a second, model instances and a second, locked
read per batch cost more than the whole rest of the batch.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q

from orders import lifecycle
from orders.models import Order, Stage
from orders.pipeline.settle import SETTLE_COLUMNS, attribute
from providers.models import Service

# Everything the apply step and the settle step read (as `values_list` names it); `updated_at` is the
# compare-and-set's witness.
COLUMNS = tuple(dict.fromkeys((*SETTLE_COLUMNS, "upstream_id", "upstream_status", "start_count", "runs_done",
                               "posts_charged", "child_orders", "upstream_charge", "stage", "finished_at",
                               "settled_at", "attention", "incorrect_id_count", "updated_at")))
_SERVICE_PREFIX = "service__"


class PolledOrder:
    """One sent order as read by the poll, with its `updated_at` at that moment kept apart."""

    __slots__ = (*(attribute(c) for c in COLUMNS), "read_updated_at")

    def __init__(self, values) -> None:
        for name, value in zip(self.__slots__, values, strict=False):
            setattr(self, name, value)
        self.read_updated_at = self.updated_at

    @property
    def pk(self) -> int:
        return self.id


def _due(*, provider_id: int, started: datetime):
    """The provider's sent orders not checked in this cycle, oldest-checked first.

    Orders sent after the cycle started wait for the next one: a burst of sends would otherwise leak
    into the cycle's tail as a stream of small status requests.
    """
    return (Order.objects.filter(lifecycle.at_stage(Stage.SENT), provider_id=provider_id)
            .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=started))
            .filter(Q(sent_at__isnull=True) | Q(sent_at__lte=started))
            .order_by(F("last_checked_at").asc(nulls_first=True), "id"))


def claim(*, provider_id: int, started: datetime, now: datetime, size: int) -> list[PolledOrder]:
    """Mark up to `size` due orders checked at `now` and read them.

    PostgreSQL: one statement, `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`, so
    concurrent pollers take different rows and nobody waits. Elsewhere (SQLite, one writer at a time):
    the same in three statements inside one transaction.
    """
    with transaction.atomic():
        due = _due(provider_id=provider_id, started=started)
        if connection.vendor == "postgresql":
            subquery, params = due.select_for_update(skip_locked=True).values("id")[:size].query.sql_with_params()
            quote = connection.ops.quote_name
            table = quote(Order._meta.db_table)
            service_table = quote(Service._meta.db_table)
            columns = ", ".join(
                f"s.{quote(Service._meta.get_field(name.removeprefix(_SERVICE_PREFIX)).column)}"
                if name.startswith(_SERVICE_PREFIX) else f"{table}.{quote(Order._meta.get_field(name).column)}"
                for name in COLUMNS)
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET last_checked_at = %s FROM {service_table} AS s"
                               f" WHERE {table}.id IN ({subquery}) AND s.id = {table}.service_id RETURNING {columns}",
                               [now, *params])
                return [PolledOrder(values) for values in cursor.fetchall()]
        ids = list(due.values_list("id", flat=True)[:size])
        if not ids:
            return []
        Order.objects.filter(pk__in=ids).update(last_checked_at=now)
        return [PolledOrder(values) for values in Order.objects.filter(pk__in=ids).values_list(*COLUMNS)]


def read(order_ids) -> list[PolledOrder]:
    """Sent orders by id, for answers that come from elsewhere than a claim."""
    return [PolledOrder(values) for values in
            Order.objects.filter(lifecycle.at_stage(Stage.SENT), pk__in=list(order_ids)).values_list(*COLUMNS)]
