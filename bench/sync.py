"""Service sync of a 5,000-service catalogue from the simulator: wall time and queries, first sync and re-syncs.

Runs on the configured database (DATABASE_URL) and removes what it created. `python -m bench.sync`.
"""

from __future__ import annotations

import json
import os
import time
import uuid

SERVICES = 5_000
CHURN_STEP = 20  # every 20th service repriced, the one after it removed, as many new ones added (5 % + 5 % + 5 %)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _measure(provider) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from providers.services import services_sync

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = services_sync(provider=provider)
        seconds = time.perf_counter() - started
    db_seconds = sum(float(query["time"]) for query in queries.captured_queries)
    return {"seconds": round(seconds, 3), "db_seconds": round(db_seconds, 3), "queries": len(queries),
            "added": result.added, "changed": result.changed,
            "deactivated": result.deactivated, "unchanged": result.unchanged}


def run() -> dict:
    _setup()
    from django.conf import settings
    from django.db import connection

    from providers.client import ProviderClient
    from providers.models import Category, Provider, ServiceChange
    from providers.simulator import DEMO_KEY, Simulator

    sim = Simulator(seed=11, services_count=SERVICES).start()
    known_categories = set(Category.objects.values_list("pk", flat=True))
    provider = Provider.objects.create(name=f"bench-sync-{uuid.uuid4().hex[:8]}", api_url=sim.url, api_key=DEMO_KEY)
    try:
        started = time.perf_counter()
        fetched = len(ProviderClient(provider).services())
        fetch_seconds = time.perf_counter() - started

        first = _measure(provider)
        unchanged = _measure(provider)
        ids = [s.service_id for s in sim.catalogue.all()]
        for sid in ids[::CHURN_STEP]:
            sim.catalogue.set_rate(sid, sim.catalogue.get(sid).rate + 1)
        for sid in ids[1::CHURN_STEP]:
            sim.catalogue.remove(sid)
        for n in range(len(ids) // CHURN_STEP):
            sim.catalogue.add(name=f"Bench new {n}", category=f"Bench new category {n % 5}", rate="1.5")
        churned = _measure(provider)
        # Worst case: another seed's catalogue under the same ids, so nearly every field of every row changes.
        other = Simulator(seed=12, services_count=SERVICES).start()
        try:
            Provider.objects.filter(pk=provider.pk).update(api_url=other.url)
            provider.refresh_from_db()
            all_changed = _measure(provider)
        finally:
            other.stop()
    finally:
        sim.stop()
        ServiceChange.objects.filter(service__provider=provider).delete()
        provider.services.all().delete()
        provider.delete()
        Category.objects.exclude(pk__in=known_categories).filter(services__isnull=True).delete()
    return {
        "database": connection.vendor,
        "panel_currency": settings.PANEL_CURRENCY,
        "services": fetched,
        "fetch_only_seconds": round(fetch_seconds, 3),
        "first_sync": first,
        "resync_nothing_changed": unchanged,
        "resync_after_churn": churned,
        "resync_everything_changed": all_changed,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
