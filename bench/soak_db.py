"""The soak's database side, run as `python -m bench.soak_db seed|report` in the soak's environment.

`seed` migrates the soak database, registers the upstream and imports its services with the operator's
own commands, and creates the customers; `report` reads the outcome: orders by stage and status, the
ledger rows per order, the money held on unknown orders, and `check_ledger`.
"""

from __future__ import annotations

import io
import json
import sys
from decimal import Decimal

PROVIDER = "Soak upstream"
# Shorter than the upstream's hangs (soak_upstream.HANG_SECONDS): a hang is a timeout for the client.
PROVIDER_TIMEOUT = Decimal("3")
CUSTOMER_BALANCE = "100000"
# Orders resting here are done with the engine; anything else is still moving (or stuck).
RESTING_STAGES = ("final", "failed", "unknown")


def seed(*, upstream_url: str, upstream_key: str, customers: int) -> dict:
    from django.core.management import call_command

    from accounts.services import customer_create
    from providers.models import Provider, Service

    call_command("migrate", verbosity=0)
    call_command("add_provider", PROVIDER, upstream_url, upstream_key, "--markup", "30", stdout=io.StringIO())
    Provider.objects.filter(name=PROVIDER).update(timeout_seconds=PROVIDER_TIMEOUT)
    call_command("sync_services", "--provider", PROVIDER, stdout=io.StringIO())
    # A plain service (link + quantity) without drip-feed: every order is one `add` and one status line.
    service = (Service.objects.filter(provider__name=PROVIDER, type="Default", dripfeed=False, is_active=True)
               .order_by("id").first())
    keys = [customer_create(username=f"soak-{n}", balance=CUSTOMER_BALANCE)[1] for n in range(customers)]
    return {"service_id": service.pk, "quantity": service.min, "keys": keys}


def _ledger_rows_per_order() -> dict:
    from django.db.models import Count, Q

    from accounts.models import LedgerEntry

    rows = (LedgerEntry.objects.filter(order__isnull=False).values("order_id")
            .annotate(charges=Count("id", filter=Q(kind="charge")), refunds=Count("id", filter=Q(kind="refund"))))
    return {
        "orders_with_more_than_one_charge": sum(1 for r in rows if r["charges"] > 1),
        "orders_with_more_than_one_refund": sum(1 for r in rows if r["refunds"] > 1),
    }


def _refunds_owed_mismatch() -> list[int]:
    """Orders whose refund differs from what their end owes: nothing for Completed, the undelivered part
    for Partial, everything for Canceled and for a failed send, nothing yet for unknown."""
    from orders.models import Order
    from providers.pricing import charge_for

    wrong = []
    for o in Order.objects.filter(stage__in=RESTING_STAGES).only("stage", "status", "charge", "refunded", "rate",
                                                                 "remains").iterator(chunk_size=2000):
        if o.stage == "unknown" or o.status == "Completed":
            owed = Decimal(0)
        elif o.status == "Partial":
            owed = min(charge_for(rate=o.rate, units=max(0, o.remains or 0)), o.charge)
        else:  # Canceled, and failed sends shown as Canceled
            owed = o.charge
        if o.refunded != owed:
            wrong.append(o.pk)
    return wrong


def report() -> dict:
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db.models import Count, Sum

    from orders.models import Order

    by_stage = {f"{r['stage']}/{r['status']}": r["n"] for r in
                Order.objects.values("stage", "status").annotate(n=Count("id")).order_by("stage", "status")}
    unknown = Order.objects.filter(stage="unknown").aggregate(n=Count("id"), charge=Sum("charge"),
                                                              refunded=Sum("refunded"))
    moving = Order.objects.exclude(stage__in=RESTING_STAGES)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_ledger", stdout=out, stderr=err)
        ledger = {"ok": True, "output": out.getvalue().strip()}
    except CommandError as error:
        ledger = {"ok": False, "output": f"{error}: {err.getvalue().strip()[:2000]}"}
    wrong_refunds = _refunds_owed_mismatch()
    return {
        "orders": Order.objects.count(),
        "by_stage": by_stage,
        "sent_upstream": Order.objects.exclude(upstream_id="").count(),
        "unknown": {"orders": unknown["n"], "money_held": str((unknown["charge"] or 0) - (unknown["refunded"] or 0))},
        "unknown_links": list(Order.objects.filter(stage="unknown").values_list("link", flat=True)),
        "flagged": Order.objects.exclude(attention="").count(),
        "left_moving_without_flag": moving.filter(attention="").count(),
        "left_moving_by_stage": dict(moving.values_list("stage").annotate(n=Count("id")).order_by()),
        "ledger_rows": _ledger_rows_per_order(),
        "refund_not_as_owed": {"orders": len(wrong_refunds), "ids": wrong_refunds[:20]},
        "ledger_check": ledger,
    }


def main(argv: list[str]) -> int:
    import django

    django.setup()
    command = argv[0]
    if command == "seed":
        args = json.loads(argv[1])
        print(json.dumps(seed(**args)))
    elif command == "report":
        print(json.dumps(report(), default=str))
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
