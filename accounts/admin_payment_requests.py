"""Payment requests in the admin: a customer says they paid (a bank transfer, a wallet); an operator approves it,
crediting the balance once, or rejects it, from the request's own page or in bulk, always with a reason.

Nothing of a request is edited here: accounts.services decides it, writes the ledger row and the audit row.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import services
from accounts.admin_payments import ReasonForm
from accounts.models import PaymentRequest
from audit.admin import audit_history, reason_page
from panel.web.forms import PAYMENT_METHODS
from providers.pricing import format_money

STATUS_COLOURS = {"pending": "#b7791f", "approved": "#0f9d58", "rejected": "#d93838"}
DECISIONS = {"approve": "approved", "reject": "rejected"}


class DecisionForm(ReasonForm):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])


def method_name(code: str) -> str:
    """The payment method as the customer chose it ("E-wallet"), not its stored code."""
    return str(dict(PAYMENT_METHODS).get(code, code))


@admin.register(PaymentRequest)
class PaymentRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "customer", "amount", "method_label", "reference", "status_badge",
                    "decided_at")
    list_filter = ("status", "method")
    search_fields = ("=id", "customer__user__username", "reference")
    list_select_related = ("customer__user",)
    fields = ("customer", "amount", "method_label", "reference", "status_badge", "admin_note", "ledger_entry",
              "created_at", "decided_at", "decided_by", "audit_log")
    readonly_fields = fields
    actions = ["approve", "reject"]
    change_form_template = "admin/accounts/paymentrequest/change_form.html"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS[obj.status], obj.get_status_display())

    @admin.display(description="method", ordering="method")
    def method_label(self, obj):
        return method_name(obj.method)

    @admin.display(description="Audit log")
    def audit_log(self, obj):
        return audit_history("payment_request", obj.pk)

    # The ledger row a decision writes points at the request: it stays, decided or not.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        pass  # every field belongs to accounts.services; a save would write back a status read earlier

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False}
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and obj.status == PaymentRequest.Status.PENDING and self.has_change_permission(request,
                                                                                                          obj):
            extra_context["decision"] = {
                "url": reverse("admin:accounts_paymentrequest_decide", args=[obj.pk]),
                "amount": format_money(obj.amount), "form": DecisionForm(),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- one request, from its page ------------------------------------------------------------------

    def get_urls(self):
        decide = path("<path:object_id>/decide/", self.admin_site.admin_view(self.decide_view),
                      name="accounts_paymentrequest_decide")
        return [decide, *super().get_urls()]

    def decide_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        payment = self.get_object(request, unquote(object_id))
        if payment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, payment):
            raise PermissionDenied
        page = reverse("admin:accounts_paymentrequest_change", args=[payment.pk])
        form = DecisionForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(f"{form.fields[name].label or name}: {' '.join(errors)}"
                                 for name, errors in form.errors.items())
            self.message_user(request, f"Nothing was decided. {problems}", messages.ERROR)
            return HttpResponseRedirect(page)
        decision, reason = form.cleaned_data["decision"], form.cleaned_data["reason"]
        if decision == "approve":
            done = services.payment_request_approve(payment_request_id=payment.pk, decided_by=request.user,
                                                    note=reason)
        else:
            done = services.payment_request_reject(payment_request_id=payment.pk, decided_by=request.user,
                                                   note=reason)
        if not done:
            payment.refresh_from_db()
            self.message_user(request, f"{payment} was already {payment.get_status_display().lower()}; nothing "
                                       "changed.", messages.WARNING)
        elif decision == "approve":
            self.message_user(request, f"Payment request #{payment.pk} approved: {format_money(payment.amount)} "
                                       f"credited to {payment.customer}.", messages.SUCCESS)
        else:
            self.message_user(request, f"Payment request #{payment.pk} rejected; nothing was credited.",
                              messages.SUCCESS)
        return HttpResponseRedirect(page)

    # --- many requests, from the list ----------------------------------------------------------------

    def _decide_many(self, request, queryset, *, action: str, title: str, explanation: str, decide):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            lines = [f"#{p.pk} {p.customer}: {format_money(p.amount)}, {method_name(p.method)} {p.reference} "
                     f"({p.get_status_display()})" for p in queryset.select_related("customer__user")[:50]]
            return reason_page(self, request, form=form, action=action, title=title, explanation=explanation,
                               lines=lines, count=queryset.count())
        ids = list(queryset.values_list("pk", flat=True))
        done = sum(decide(payment_request_id=pk, decided_by=request.user, note=form.cleaned_data["reason"])
                   for pk in ids)
        self.message_user(request, f"{done} of {len(ids)} payment request(s) {DECISIONS[action]}; only pending "
                                   "requests qualify.", messages.SUCCESS if done else messages.WARNING)
        return None

    @admin.action(description="Approve: credit the balance…", permissions=["change"])
    def approve(self, request, queryset):
        return self._decide_many(request, queryset, action="approve", title="Approve",
                                 explanation="Each pending request's amount is credited to its customer, once.",
                                 decide=services.payment_request_approve)

    @admin.action(description="Reject…", permissions=["change"])
    def reject(self, request, queryset):
        return self._decide_many(request, queryset, action="reject", title="Reject",
                                 explanation="Nothing is credited; the customer sees the request rejected.",
                                 decide=services.payment_request_reject)
