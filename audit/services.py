"""Writing the audit log. Callers record a change inside the transaction that makes it."""

from __future__ import annotations

from collections.abc import Mapping

from audit.models import AuditEntry

REASON_MAX_LENGTH = AuditEntry._meta.get_field("reason").max_length


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)


def audit_record(*, action: str, subject_type: str, subject_id: int, actor=None, customer_id: int | None = None,
                 changes: Mapping[str, tuple[object, object]] | None = None, reason: str = "") -> AuditEntry:
    """One audit row; call inside the transaction of the change it records."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # an anonymous user is no one to blame
    return AuditEntry.objects.create(
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        customer_id=customer_id,
        changes={field: [_as_text(old), _as_text(new)] for field, (old, new) in (changes or {}).items()},
        reason=(reason or "")[:REASON_MAX_LENGTH],
    )


def audit_record_bulk(*, action: str, subject_type: str, rows, actor=None, reason: str = "") -> list[AuditEntry]:
    """One audit row per subject, in one insert: `rows` are (subject_id, customer_id, changes) for a change
    made to many subjects at once, by one actor, for one reason. Call inside the change's transaction."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry.objects.bulk_create(
        AuditEntry(action=action, subject_type=subject_type, subject_id=subject_id, actor=actor,
                   customer_id=customer_id, reason=(reason or "")[:REASON_MAX_LENGTH],
                   changes={field: [_as_text(old), _as_text(new)] for field, (old, new) in (changes or {}).items()})
        for subject_id, customer_id, changes in rows)
