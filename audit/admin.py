"""The audit log in the admin: read by everyone with access, written only by the services."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.models import AuditEntry

# The admin page of each kind of subject, by its `subject_type`.
SUBJECT_ADMIN_URLS = {
    "order": "admin:orders_order_change",
    "customer": "admin:accounts_customer_change",
    "refill": "admin:orders_refill_change",
    "cancel": "admin:orders_cancelrequest_change",
    "deposit": "admin:accounts_deposit_change",
    "payment_request": "admin:accounts_paymentrequest_change",
    "service": "admin:providers_service_change",
}
# Enough to see what happened lately on one change page; the full list is one link away.
HISTORY_ROWS = 50
CONFIRM_TEMPLATE = "admin/confirm_with_reason.html"


def subject_link(subject_type: str, subject_id: int) -> str:
    label = f"{subject_type} #{subject_id}"
    try:
        url = reverse(SUBJECT_ADMIN_URLS[subject_type], args=[subject_id])
    except (KeyError, NoReverseMatch):
        return label
    return format_html('<a href="{}">{}</a>', url, label)


def changes_text(changes: dict) -> str:
    return "; ".join(f"{field}: {old} → {new}" for field, (old, new) in sorted(changes.items()))


def audit_history(subject_type: str, subject_id: int | None) -> str:
    """The latest audit rows of one subject, as a read-only table for its change page."""
    if subject_id is None:
        return "—"
    rows = list(AuditEntry.objects.filter(subject_type=subject_type, subject_id=subject_id)
                .select_related("actor").order_by("-id")[:HISTORY_ROWS])
    if not rows:
        return "No audited changes."
    body = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((timezone.localtime(row.at).strftime("%Y-%m-%d %H:%M:%S"), row.actor or "system", row.action,
          changes_text(row.changes), row.reason) for row in rows),
    )
    everything = reverse("admin:audit_auditentry_changelist") + f"?subject_type={subject_type}&q={subject_id}"
    return format_html(
        '<table><thead><tr><th>At</th><th>By</th><th>Action</th><th>Changes</th><th>Reason</th></tr></thead>'
        '<tbody>{}</tbody></table><p><a href="{}">All audit rows of this {}</a></p>',
        body, everything, subject_type,
    )


def reason_page(model_admin: admin.ModelAdmin, request, *, form, action: str, title: str, explanation: str,
                lines: list[str], count: int) -> TemplateResponse:
    """The intermediate page of an admin action: what it will do, to which rows, and a form asking why.

    `lines` describes up to a few dozen of the `count` chosen rows; the selection itself travels in the
    POST, as on the change list, so that "select all" across pages keeps working."""
    return TemplateResponse(request, CONFIRM_TEMPLATE, {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "explanation": explanation,
        "form": form,
        "action": action,
        "objects": lines,
        "count": count,
        "more": count - len(lines),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "submit_label": title,
        "opts": model_admin.model._meta,
        "media": model_admin.media + form.media,
    })


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "at", "actor", "action", "subject", "customer", "changes_summary", "reason")
    list_filter = ("action", "subject_type")
    search_fields = ("=subject_id", "actor__username", "reason")
    list_select_related = ("actor", "customer__user")
    date_hierarchy = "at"
    fields = ("at", "actor", "action", "subject", "customer", "changes_summary", "reason")
    readonly_fields = fields

    @admin.display(description="Subject", ordering="subject_id")
    def subject(self, entry: AuditEntry):
        return subject_link(entry.subject_type, entry.subject_id)

    @admin.display(description="Changes")
    def changes_summary(self, entry: AuditEntry):
        return changes_text(entry.changes) or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
