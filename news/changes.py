"""The public face of the service change log (providers.ServiceChange): which rows customers may see, what
kind of change each is, and the old → new sale price. The updates page, its feed and the weekly digest all
read it from here.

Shown: services added, sale price up or down (`rate` rows, in the panel currency), services disabled and
enabled again (`is_active` rows). Never shown: `upstream_rate` rows (our costs) and the other synced fields.
`available_upstream` rows add nothing public: whenever a service customers could see disappears or comes
back, the sync writes an `is_active` row with it; an `available_upstream` row alone concerns a service the
admin had switched off.

Only services customers can see count: active now at an active provider, or switched off by the change
itself (a "disabled" row), so a service that was never public never shows its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db.models import Case, DecimalField, F, Q, QuerySet, When
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from accounts.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from providers.models import ServiceChange

ADDED = "added"
PRICE_UP = "price_up"
PRICE_DOWN = "price_down"
DISABLED = "disabled"
ENABLED = "enabled"

KIND_CHOICES = (
    (ADDED, _("New service")),
    (PRICE_UP, _("Price up")),
    (PRICE_DOWN, _("Price down")),
    (DISABLED, _("Disabled")),
    (ENABLED, _("Enabled again")),
)
KIND_LABELS = dict(KIND_CHOICES)

_PUBLIC_FIELDS = ("added", "rate", "is_active")
_RATE = DecimalField(max_digits=MONEY_MAX_DIGITS + 5, decimal_places=MONEY_DECIMAL_PLACES)


def _rate_of(column: str) -> Case:
    # CASE first: only `rate` rows hold numbers, and the database must never try to cast "True".
    return Case(When(field="rate", then=Cast(column, _RATE)), default=None, output_field=_RATE)


_KIND_FILTERS = {
    ADDED: Q(field="added"),
    PRICE_UP: Q(field="rate", new_rate__gt=F("old_rate")),
    PRICE_DOWN: Q(field="rate", new_rate__lt=F("old_rate")),
    DISABLED: Q(field="is_active", new_value="False"),
    ENABLED: Q(field="is_active", new_value="True"),
}
_ANY_KIND = _KIND_FILTERS[ADDED] | _KIND_FILTERS[PRICE_UP] | _KIND_FILTERS[PRICE_DOWN] | Q(field="is_active")
_VISIBLE = (
    Q(field__in=_PUBLIC_FIELDS, service__is_active=True, service__provider__is_active=True)
    | Q(field="is_active", new_value="False")
)


@dataclass(frozen=True)
class PublicChange:
    """One change as customers see it. `old_rate`/`new_rate` are sale prices per 1000 (None where none)."""

    id: int
    at: datetime
    service_id: int
    service_name: str
    category_id: int
    category_name: str
    kind: str
    old_rate: Decimal | None
    new_rate: Decimal | None

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])

    def as_context(self) -> dict[str, object]:
        """JSON-ready, for a mail's context."""
        return {
            "service_id": self.service_id, "service_name": self.service_name, "category": self.category_name,
            "kind": self.kind,
            "old_rate": "" if self.old_rate is None else f"{self.old_rate.normalize():f}",
            "new_rate": "" if self.new_rate is None else f"{self.new_rate.normalize():f}",
        }


def changes_public(*, category_id: int | None = None, kind: str | None = None, since: datetime | None = None,
                   until: datetime | None = None) -> QuerySet[ServiceChange]:
    """The changes customers may see, newest first, with their service and category in the same query.

    `kind` is one of the KIND_CHOICES values; `since` inclusive, `until` exclusive. Turn rows into
    PublicChange with `public_change`.
    """
    rows = (
        ServiceChange.objects.annotate(old_rate=_rate_of("old_value"), new_rate=_rate_of("new_value"))
        .filter(_VISIBLE)
        .select_related("service__category")
        .order_by("-changed_at", "-id")
    )
    # Without a kind: every row of some kind (a `rate` row that did not change the price would fit none).
    rows = rows.filter(_KIND_FILTERS[kind] if kind is not None else _ANY_KIND)
    if category_id is not None:
        rows = rows.filter(service__category_id=category_id)
    if since is not None:
        rows = rows.filter(changed_at__gte=since)
    if until is not None:
        rows = rows.filter(changed_at__lt=until)
    return rows


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return None
    return value if value.is_finite() else None


def change_kind(row: ServiceChange) -> str:
    if row.field == "added":
        return ADDED
    if row.field == "is_active":
        return ENABLED if row.new_value == "True" else DISABLED
    old, new = _decimal(row.old_value), _decimal(row.new_value)
    return PRICE_UP if old is None or new is None or new > old else PRICE_DOWN


def public_change(row: ServiceChange) -> PublicChange:
    """A row of `changes_public` as customers see it."""
    kind = change_kind(row)
    priced = kind in (ADDED, PRICE_UP, PRICE_DOWN)
    service = row.service
    return PublicChange(
        id=row.pk, at=row.changed_at, service_id=service.pk, service_name=service.name,
        category_id=service.category_id, category_name=service.category.name, kind=kind,
        old_rate=_decimal(row.old_value) if kind in (PRICE_UP, PRICE_DOWN) else None,
        new_rate=_decimal(row.new_value) if priced else None,
    )
