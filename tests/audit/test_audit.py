"""The audit log: one append-only row per recorded change, readable in the admin, never editable there."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import services as money
from audit.models import AuditEntry
from audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_audit_record_keeps_values_as_strings_and_none_as_none(admin_user):
    customer, _key = money.customer_create(username="buyer", password="pw-buyer-123")

    entry = audit_record(action="order.send_again", subject_type="order", subject_id=42, actor=admin_user,
                         customer_id=customer.pk, changes={"stage": ("unknown", "paid"), "remains": (None, 0),
                                                           "refunded": (Decimal("0.50000"), Decimal("1.2"))},
                         reason="r" * 600)

    entry.refresh_from_db()
    assert (entry.action, entry.subject_type, entry.subject_id, entry.actor, entry.customer) == (
        "order.send_again", "order", 42, admin_user, customer)
    assert entry.changes == {"stage": ["unknown", "paid"], "remains": [None, "0"], "refunded": ["0.50000", "1.2"]}
    assert entry.reason == "r" * 500
    assert entry.at is not None


def test_audit_record_without_actor_or_changes():
    entry = audit_record(action="refill.request", subject_type="refill", subject_id=7)

    assert (entry.actor, entry.customer, entry.changes, entry.reason) == (None, None, {}, "")


def test_audit_entries_are_append_only():
    entry = audit_record(action="order.mark_resolved", subject_type="order", subject_id=1, reason="checked")

    entry.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).reason == "checked"


def test_the_audit_admin_lists_filters_and_searches_but_never_edits(admin_client, admin_user):
    # given
    kept = audit_record(action="order.send_again", subject_type="order", subject_id=1234, actor=admin_user,
                        changes={"stage": ("unknown", "paid")}, reason="nothing arrived upstream")
    audit_record(action="customer.balance_adjust", subject_type="customer", subject_id=99, reason="goodwill")
    listing_url = reverse("admin:audit_auditentry_changelist")

    # when
    by_action = admin_client.get(listing_url, {"action": "order.send_again"})
    by_type = admin_client.get(listing_url, {"subject_type": "customer"})
    by_id = admin_client.get(listing_url, {"q": "1234"})
    by_actor = admin_client.get(listing_url, {"q": admin_user.username})
    by_reason = admin_client.get(listing_url, {"q": "arrived"})
    detail = admin_client.get(reverse("admin:audit_auditentry_change", args=[kept.pk]))
    add = admin_client.get(reverse("admin:audit_auditentry_add"))
    change = admin_client.post(reverse("admin:audit_auditentry_change", args=[kept.pk]), {"reason": "forged"})
    delete = admin_client.post(reverse("admin:audit_auditentry_delete", args=[kept.pk]), {"post": "yes"})

    # then
    for page in (by_action, by_id, by_actor, by_reason):
        assert page.status_code == 200
        assert "nothing arrived upstream" in page.content.decode() and "goodwill" not in page.content.decode()
    assert "goodwill" in by_type.content.decode() and "nothing arrived" not in by_type.content.decode()
    assert detail.status_code == 200 and "stage: unknown → paid" in detail.content.decode()
    assert reverse("admin:orders_order_change", args=[1234]) in detail.content.decode()
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert AuditEntry.objects.get(pk=kept.pk).reason == "nothing arrived upstream"
