"""Orders in the admin: read-only rows; every change goes through a service action, with a reason.

The pipeline and the ledger own every column of an order, refill and cancel (stage, status, remains,
charge, refunded, ...): an edit here would desynchronise them (an edited `remains` refunded money the
provider had billed). The actions below call orders.pipeline.resolve, which records who and why.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import path, reverse

from audit.admin import audit_history, reason_page
from orders import reports
from orders.admin_attempts import AttemptInline
from orders.admin_fields import fields_for_order
from orders.admin_filters import FlaggedFilter
from orders.models import CancelRequest, Order, OrderStatusChange, Refill
from orders.pipeline import resolve

# The confirmation page lists this many of the chosen orders; the rest are counted.
CONFIRM_LISTED = 50


class ServiceOwnedAdmin(admin.ModelAdmin):
    """Every column read-only, no add, no delete; saving the change form writes nothing."""

    extra_readonly_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        return [*(field.name for field in self.model._meta.fields), *self.extra_readonly_fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger points at these rows

    def save_model(self, request, obj, form, change):
        # Nothing is editable; `obj.save()` would write back every column as read at the start of the
        # request, over whatever a worker wrote since.
        pass

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)


class HistoryInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    can_delete = False
    max_num = 0
    fields = ("at", "status", "upstream_status", "start_count", "remains", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why: kept in the audit log with your name.")


class UpstreamIdForm(ReasonForm):
    upstream_id = forms.CharField(max_length=64, label="Upstream order id",
                                  help_text="The id the provider shows for this order.")
    field_order = ["upstream_id", "reason"]


class UpstreamIdListForm(ReasonForm):
    """"order_id upstream_id" per line, for orders among the chosen ones; every mistake is named by its line."""

    pairs = forms.CharField(
        label="Order ids and upstream ids", widget=forms.Textarea(attrs={"rows": 12, "cols": 60}),
        help_text="One order per line: our order id, then the provider's id for it (spaces, a tab or a comma "
                  "between them), e.g. from the provider's order export.")
    field_order = ["pairs", "reason"]

    def __init__(self, *args, chosen: dict[int, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.chosen = chosen  # order id -> provider id, for the orders the action was asked for

    def clean_pairs(self) -> dict[int, str]:
        pairs: dict[int, str] = {}
        errors: list[str] = []
        for number, line in enumerate(self.cleaned_data["pairs"].splitlines(), start=1):
            parts = line.replace(",", " ").replace(";", " ").split()
            if not parts:
                continue
            if len(parts) != 2 or not (parts[0].isascii() and parts[0].isdigit()):
                errors.append(f"Line {number}: expected an order id and an upstream id, got {line.strip()[:80]!r}.")
            elif int(parts[0]) not in self.chosen:
                errors.append(f"Line {number}: order {parts[0]} is not among the chosen orders.")
            elif int(parts[0]) in pairs:
                errors.append(f"Line {number}: order {parts[0]} appears twice.")
            elif len(parts[1]) > 64:
                errors.append(f"Line {number}: the upstream id is longer than 64 characters.")
            else:
                pairs[int(parts[0])] = parts[1]
        if not pairs and not errors:
            errors.append("Give at least one line.")
        errors.extend(self._clashes(pairs))
        if errors:
            raise forms.ValidationError(errors)
        return pairs

    def _clashes(self, pairs: dict[int, str]) -> list[str]:
        """One upstream order is one of ours: an id given twice at one provider, or held by another order there."""
        seen: dict[tuple[int, str], int] = {}
        errors = []
        for order_id, upstream_id in pairs.items():
            other = seen.setdefault((self.chosen[order_id], upstream_id), order_id)
            if other != order_id:
                errors.append(f"Upstream id {upstream_id} is given for orders {other} and {order_id} of one provider.")
        taken = (Order.objects.filter(upstream_id__in=set(pairs.values()), provider_id__in=set(self.chosen.values()))
                 .exclude(pk__in=list(pairs)).values_list("pk", "provider_id", "upstream_id"))
        for pk, provider_id, upstream_id in taken:
            if (provider_id, upstream_id) in seen:
                errors.append(f"Upstream id {upstream_id} is already order {pk}'s at that provider.")
        return errors


@admin.register(Order)
class OrderAdmin(ServiceOwnedAdmin):
    list_display = ("id", "created_at", "customer", "service", "provider", "quantity", "charge", "refunded",
                    "profit", "status", "stage", "upstream_id", "attention")
    list_filter = ("stage", "status", FlaggedFilter, "provider", "source",
                   ("customer", admin.RelatedOnlyFieldListFilter))
    search_fields = ("id", "upstream_id", "link", "customer__user__username")
    list_select_related = ("customer__user", "service", "provider")
    extra_readonly_fields = ("profit", "audit_log")
    inlines = [HistoryInline, AttemptInline]
    actions = ["send_again", "set_upstream_id", "attach_upstream_ids", "cancel_and_refund", "mark_resolved"]
    change_list_template = "admin/orders/order/change_list.html"

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is None else fields_for_order(fields, obj)

    @admin.display(description="Profit")
    def profit(self, order: Order):
        value = reports.order_profit(order)
        return "—" if value is None else value

    @admin.display(description="Audit log")
    def audit_log(self, order: Order):
        return audit_history("order", order.pk)

    # --- actions: each asks for a reason, then calls the service once per order ---------------

    def _confirm_page(self, request, queryset, *, form, action: str, title: str, explanation: str):
        orders = queryset.select_related("provider")[:CONFIRM_LISTED]
        lines = [f"{o} — {o.get_stage_display()}, {o.status}, {o.provider}"
                 + (f" ({o.attention})" if o.attention else "") for o in orders]
        return reason_page(self, request, form=form, action=action, title=title, explanation=explanation,
                           lines=lines, count=queryset.count())

    def _bound_form(self, request, form_class):
        return form_class(request.POST if "apply" in request.POST else None)

    def _report(self, request, done: int, total: int, what: str, why_skipped: str) -> None:
        if done:
            self.message_user(request, f"{done} order(s) {what}.", messages.SUCCESS)
        if total - done:
            self.message_user(request, f"{total - done} order(s) skipped: {why_skipped}.", messages.WARNING)

    def _each_with_reason(self, request, queryset, *, action: str, title: str, explanation: str, resolution,
                          done_word: str, skipped_word: str):
        """Ask for a reason once, then resolve all the chosen orders (filtered, across pages) in bulk with who
        and why: `resolution` is one of orders.pipeline.resolve's bulk services."""
        form = self._bound_form(request, ReasonForm)
        if not form.is_valid():
            return self._confirm_page(request, queryset, form=form, action=action, title=title,
                                      explanation=explanation)
        ids = list(queryset.values_list("id", flat=True))
        done = resolution(order_ids=ids, actor=request.user, reason=form.cleaned_data["reason"])
        self._report(request, len(done), len(ids), done_word, skipped_word)
        return None

    @admin.action(description="Send again (back to paid)…", permissions=["change"])
    def send_again(self, request, queryset):
        return self._each_with_reason(
            request, queryset, action="send_again", title="Send again", resolution=resolve.orders_send_again,
            explanation="The chosen orders go back to paid and a worker sends them to the provider again. "
                        "Only failed or unknown orders without an upstream id and not refunded qualify.",
            done_word="queued to be sent again",
            skipped_word="not in a state that allows it (failed orders already refunded cannot be sent again)")

    @admin.action(description="Cancel and refund…", permissions=["change"])
    def cancel_and_refund(self, request, queryset):
        return self._each_with_reason(
            request, queryset, action="cancel_and_refund", title="Cancel and refund",
            resolution=resolve.orders_cancel_and_refund,
            explanation="The chosen orders become final and Canceled; what is left of their charge goes back "
                        "to the customer. Only paid, failed or unknown orders qualify.",
            done_word="canceled and refunded", skipped_word="not paid, failed or unknown")

    @admin.action(description="Set upstream id…", permissions=["change"])
    def set_upstream_id(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one order to set its upstream id.", messages.ERROR)
            return None
        order = queryset.get()
        form = self._bound_form(request, UpstreamIdForm)
        if not form.is_valid():
            return self._confirm_page(
                request, queryset, form=form, action="set_upstream_id", title="Set upstream id",
                explanation=f"Find the order at the provider ({order.provider}) and enter its id there; the "
                            "order is then polled like any sent order.")
        if resolve.order_set_upstream_id(order_id=order.pk, upstream_id=form.cleaned_data["upstream_id"],
                                         actor=request.user, reason=form.cleaned_data["reason"]):
            self.message_user(request, f"{order} is sent; its status will be polled.", messages.SUCCESS)
        else:
            self.message_user(request, f"{order} is not failed or unknown (or was refunded); nothing changed.",
                              messages.ERROR)
        return None

    @admin.action(description="Attach upstream ids from a list…", permissions=["change"])
    def attach_upstream_ids(self, request, queryset):
        chosen = dict(queryset.values_list("id", "provider_id"))
        form = UpstreamIdListForm(request.POST if "apply" in request.POST else None, chosen=chosen)
        if not form.is_valid():
            return self._confirm_page(
                request, queryset, form=form, action="attach_upstream_ids", title="Attach upstream ids",
                explanation="Paste the provider's ids of the chosen orders that you found upstream. Each "
                            "order named is then polled like any sent order; only failed or unknown orders "
                            "not refunded qualify.")
        pairs = form.cleaned_data["pairs"]
        done = resolve.orders_set_upstream_ids(upstream_ids=pairs, actor=request.user,
                                               reason=form.cleaned_data["reason"])
        self._report(request, len(done), len(pairs), "sent with the upstream id given; their status will be polled",
                     "not failed or unknown, or refunded already")
        return None

    @admin.action(description="Mark resolved (clear the attention note)…", permissions=["change"])
    def mark_resolved(self, request, queryset):
        return self._each_with_reason(
            request, queryset, action="mark_resolved", title="Mark resolved", resolution=resolve.orders_mark_resolved,
            explanation="The attention note of the chosen orders is cleared: you checked them and they need "
                        "nothing more. Stage, status and money do not change.",
            done_word="marked resolved", skipped_word="no attention note to clear")

    # --- dashboard -----------------------------------------------------------------------------

    def get_urls(self):
        dashboard = path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="orders_dashboard")
        return [dashboard, *super().get_urls()]

    def dashboard_view(self, request):
        context = {**self.admin_site.each_context(request), "title": "Orders dashboard",
                   "by_status": reports.orders_by_status(), "by_stage": reports.orders_by_stage(),
                   "per_day": reports.money_per_day(), "providers": reports.provider_health(),
                   "orders_url": reverse("admin:orders_order_changelist"), "opts": self.model._meta}
        return render(request, "admin/orders/dashboard.html", context)


@admin.register(Refill)
class RefillAdmin(ServiceOwnedAdmin):
    list_display = ("id", "order", "upstream_id", "status", "stage", "error", "created_at")
    list_filter = ("status", "stage")
    list_select_related = ("order",)
    extra_readonly_fields = ("audit_log",)

    @admin.display(description="Audit log")
    def audit_log(self, refill: Refill):
        return audit_history("refill", refill.pk)


@admin.register(CancelRequest)
class CancelRequestAdmin(ServiceOwnedAdmin):
    list_display = ("id", "order", "upstream_id", "status", "stage", "error", "created_at")
    list_filter = ("status", "stage")
    list_select_related = ("order",)
    extra_readonly_fields = ("audit_log",)

    @admin.display(description="Audit log")
    def audit_log(self, cancel: CancelRequest):
        return audit_history("cancel", cancel.pk)
