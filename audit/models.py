"""The audit log: one row per change made by a service on someone's behalf."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One recorded change. Never updated or deleted: a correction is another row."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "<subject>.<verb>", e.g. "order.send_again", "customer.balance_adjust".
    action = models.CharField(max_length=60)
    # What the row is about: "order", "customer", "refill", "cancel".
    subject_type = models.CharField(max_length=40)
    subject_id = models.BigIntegerField()
    # Whose money or order it touched, so that one customer's history is one filter.
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {"field": [old, new]}, values as strings (None stays None).
    changes = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject")]

    def __str__(self) -> str:
        return f"{self.action} {self.subject_type}#{self.subject_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit entries are append-only")
