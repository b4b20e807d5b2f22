"""Importing an upstream catalogue: new services, changed fields and prices, services gone and back.

A sync costs a fixed number of queries whatever the catalogue's size (on PostgreSQL; SQLite splits bulk
statements into batches of its parameter limit): one read of the provider's services, one of the
categories, bulk inserts and one bulk update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from django.db import transaction
from django.utils import timezone

from accounts.money import CENT
from providers.bulk import bulk_update_rows
from providers.catalogue import catalogue_changed
from providers.client import ProviderClient, Rejected, Unavailable, UpstreamService
from providers.models import Category, Provider, Service, ServiceChange
from providers.ordertypes import ORDER_TYPES
from providers.pricing import PricingError, markup_for, sale_rate
from providers.selectors import exchange_rate_for, providers_active

logger = logging.getLogger(__name__)

# Fields copied from the upstream catalogue; a difference in any of them is a recorded change.
SYNCED_FIELDS = ("name", "type", "upstream_rate", "min", "max", "refill", "cancel", "dripfeed", "description")
_TYPES_BY_LOWER = {name.lower(): name for name in ORDER_TYPES}
_MAX = {f.name: f.max_length for f in Service._meta.get_fields() if getattr(f, "max_length", None)}
_CHANGE_VALUE_LENGTH = ServiceChange._meta.get_field("old_value").max_length
_CATEGORY_NAME_LENGTH = Category._meta.get_field("name").max_length


class SyncError(Exception):
    """A provider's catalogue could not be imported; nothing was changed."""


@dataclass
class SyncResult:
    added: int = 0
    changed: int = 0
    deactivated: int = 0
    reactivated: int = 0
    unchanged: int = 0
    skipped: int = 0  # upstream entries that make no sense (max below min, negative rate)
    changes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"added {self.added}, changed {self.changed}, deactivated {self.deactivated}, "
                f"reactivated {self.reactivated}, unchanged {self.unchanged}, skipped {self.skipped}")


@dataclass(frozen=True)
class _Entry:
    """One upstream service, cleaned to what our columns hold."""

    service_id: str
    category: str
    values: dict[str, object]
    known_type: bool


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)[:_CHANGE_VALUE_LENGTH]


def _clean(item: UpstreamService) -> _Entry | str:
    """The entry, or why it is skipped."""
    rate = Decimal(item.rate)
    if not rate.is_finite() or rate < 0:
        return f"negative or invalid rate {item.rate}"
    if item.min < 0 or item.max < item.min:
        return f"invalid min/max {item.min}/{item.max}"
    type_name = _TYPES_BY_LOWER.get(str(item.type).strip().lower())
    values = {
        "name": (item.name or f"Service {item.service_id}")[: _MAX["name"]],
        "type": type_name or str(item.type)[: _MAX["type"]],
        # Stored costs are rounded up: rounding a cost down could let a sale price slip under it.
        "upstream_rate": rate.quantize(CENT, rounding=ROUND_CEILING),
        "min": int(item.min),
        "max": int(item.max),
        "refill": bool(item.refill),
        "cancel": bool(item.cancel),
        "dripfeed": bool(item.dripfeed),
        "description": item.description or "",
    }
    category = (item.category or "Uncategorised").strip()[:_CATEGORY_NAME_LENGTH] or "Uncategorised"
    return _Entry(service_id=str(item.service_id), category=category, values=values, known_type=bool(type_name))


def _fetch(provider: Provider) -> list[UpstreamService]:
    try:
        return ProviderClient(provider).services()
    except Rejected as exc:
        raise SyncError(f"{provider.name}: the upstream refused the services list: {exc.message}") from None
    except Unavailable as exc:
        raise SyncError(f"{provider.name}: the upstream is unavailable: {exc.reason}") from None


def _categories(names: set[str]) -> dict[str, Category]:
    by_name = {c.name: c for c in Category.objects.filter(name__in=names)}
    missing = names - by_name.keys()
    if missing:
        # ignore_conflicts: another provider's sync may create the same category at the same moment.
        Category.objects.bulk_create([Category(name=name) for name in sorted(missing)], ignore_conflicts=True)
        by_name.update({c.name: c for c in Category.objects.filter(name__in=missing)})
    return by_name


def services_sync(*, provider: Provider) -> SyncResult:
    """Import the provider's catalogue: add, update and reprice, deactivate what is gone. Raises SyncError."""
    caller_provider = provider
    catalogue = _fetch(provider)  # outside any transaction: no upstream HTTP while holding locks
    result = SyncResult()
    entries: dict[str, _Entry] = {}
    for item in catalogue:
        try:
            cleaned = _clean(item)
        except (TypeError, ValueError, ArithmeticError) as exc:
            cleaned = f"unreadable entry ({exc})"
        if isinstance(cleaned, str):
            result.skipped += 1
            result.changes.append(f"skipped upstream service {item.service_id}: {cleaned}")
        else:
            entries.setdefault(cleaned.service_id, cleaned)
    skipped_ids = {str(item.service_id) for item in catalogue} - entries.keys()

    with transaction.atomic():
        # The provider's row lock serialises two syncs of the same provider.
        provider = Provider.objects.select_for_update().get(pk=provider.pk)
        try:
            exchange = exchange_rate_for(currency=provider.currency)
        except PricingError as exc:
            raise SyncError(f"{provider.name}: {exc}") from None
        existing = {s.upstream_service_id: s for s in Service.objects.filter(provider=provider)}
        if not entries and any(s.available_upstream for s in existing.values()):
            # An empty list is far likelier an upstream hiccup than a panel that sells nothing.
            raise SyncError(f"{provider.name}: the upstream listed no services; nothing was changed")
        new_ids = [sid for sid in entries if sid not in existing]
        categories = _categories({entries[sid].category for sid in new_ids})
        category_markups = dict(Category.objects.values_list("pk", "markup_percent"))

        def price(service: Service, category_markup) -> Decimal:
            return sale_rate(
                upstream_rate=service.upstream_rate,
                exchange_rate=exchange,
                fixed_rate=service.fixed_rate,
                markup_percent=markup_for(
                    service_markup=service.markup_percent,
                    category_markup=category_markup,
                    provider_markup=provider.markup_percent,
                ),
            )

        now = timezone.now()
        created: list[Service] = []
        for sid in new_ids:
            entry = entries[sid]
            category = categories[entry.category]
            service = Service(provider=provider, upstream_service_id=sid, category=category, **entry.values)
            service.rate = price(service, category.markup_percent)
            service.is_active = provider.import_new_active and entry.known_type
            created.append(service)
            result.changes.append(f"added {sid} {service.name} at {_text(service.rate)}")
        result.added = len(created)

        updated: list[Service] = []
        update_fields: set[str] = set()
        change_rows: list[ServiceChange] = []

        def record(service: Service, name: str, new: object) -> None:
            old = getattr(service, name)
            if old != new:
                change_rows.append(ServiceChange(service=service, field=name, old_value=_text(old),
                                                 new_value=_text(new)))
                setattr(service, name, new)
                update_fields.add(name)

        for sid, service in existing.items():
            before = len(change_rows)
            entry = entries.get(sid)
            if entry is None:
                if sid in skipped_ids or not service.available_upstream:
                    continue  # still listed (but unreadable), or already known to be gone
                record(service, "available_upstream", False)
                if service.is_active:
                    record(service, "is_active", False)
                    record(service, "deactivated_by_sync", True)
                result.deactivated += 1
                bucket = "deactivated"
            else:
                came_back = not service.available_upstream
                reactivate = came_back and service.deactivated_by_sync
                for name in SYNCED_FIELDS:
                    record(service, name, entry.values[name])
                record(service, "rate", price(service, category_markups.get(service.category_id)))
                if came_back:
                    record(service, "available_upstream", True)
                if reactivate:
                    record(service, "is_active", True)
                    record(service, "deactivated_by_sync", False)
                    result.reactivated += 1
                    bucket = "reactivated"
                elif len(change_rows) > before:
                    result.changed += 1
                    bucket = "changed"
                else:
                    result.unchanged += 1
                    continue
            fields = ", ".join(f"{row.field} {row.old_value} → {row.new_value}"
                               for row in change_rows[before:] if row.field != "deactivated_by_sync")
            result.changes.append(f"{bucket} {sid} {service.name}: {fields}")
            service.updated_at = now
            updated.append(service)

        # Bookkeeping only, not a change an admin needs to review.
        change_rows = [row for row in change_rows if row.field != "deactivated_by_sync"]
        if created:
            Service.objects.bulk_create(created)  # sets their ids: the insert returns them
            # New services are news too (the public updates page): one row each, in the same insert as the rest.
            change_rows.extend(ServiceChange(service=service, field="added", new_value=_text(service.rate))
                               for service in created)
        if updated:
            bulk_update_rows(updated, sorted(update_fields | {"updated_at"}))
        if change_rows:
            ServiceChange.objects.bulk_create(change_rows)
        if created or updated:
            catalogue_changed()  # the API's cached services bodies (bulk writes send no save signals)
        Provider.objects.filter(pk=provider.pk).update(last_synced_at=now)
    caller_provider.last_synced_at = now
    return result


def services_sync_all() -> dict[str, SyncResult | str]:
    """Sync every active provider; one failing provider does not stop the others."""
    results: dict[str, SyncResult | str] = {}
    for provider in providers_active():
        try:
            results[provider.name] = services_sync(provider=provider)
        except SyncError as exc:
            results[provider.name] = str(exc)
        except Exception as exc:  # a bug or a database error for one provider must not starve the rest
            logger.exception("service sync of provider %s failed", provider.pk)
            results[provider.name] = f"{provider.name}: sync failed: {type(exc).__name__}"
    return results
