from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from orders import reports
from orders.models import CancelRequest, Order, OrderStatusChange, Refill
from orders.pipeline import resolve


class HistoryInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    can_delete = False
    max_num = 0
    readonly_fields = ("at", "status", "upstream_status", "start_count", "remains", "note")


class UpstreamIdForm(forms.Form):
    upstream_id = forms.CharField(max_length=64, label="Upstream order id",
                                  help_text="The id the provider shows for this order.")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "customer", "service", "provider", "quantity", "charge", "refunded",
                    "profit", "status", "stage", "upstream_id", "attention")
    list_filter = ("stage", "status", "provider", "source", ("customer", admin.RelatedOnlyFieldListFilter))
    search_fields = ("id", "upstream_id", "link", "customer__user__username")
    list_select_related = ("customer__user", "service", "provider")
    readonly_fields = ("customer", "service", "provider", "rate", "charge", "refunded", "upstream_charge", "profit",
                       "created_at", "updated_at", "sending_started_at", "sent_at", "last_checked_at",
                       "finished_at", "settled_at")
    inlines = [HistoryInline]
    actions = ["send_again", "set_upstream_id", "cancel_and_refund"]
    change_list_template = "admin/orders/order/change_list.html"

    @admin.display(description="Profit")
    def profit(self, order: Order):
        value = reports.order_profit(order)
        return "—" if value is None else value

    def _report(self, request, done: int, total: int, what: str) -> None:
        if done:
            self.message_user(request, f"{done} order(s) {what}.", messages.SUCCESS)
        if total - done:
            self.message_user(request, f"{total - done} order(s) skipped: not in a state that allows it "
                              "(failed orders already refunded cannot be sent again).", messages.WARNING)

    @admin.action(description="Send again (back to paid)")
    def send_again(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        done = sum(resolve.order_send_again(order_id=pk) for pk in ids)
        self._report(request, done, len(ids), "queued to be sent again")

    @admin.action(description="Cancel and refund")
    def cancel_and_refund(self, request, queryset):
        ids = list(queryset.values_list("id", flat=True))
        done = sum(resolve.order_cancel_and_refund(order_id=pk) for pk in ids)
        self._report(request, done, len(ids), "canceled and refunded")

    @admin.action(description="Set upstream id…")
    def set_upstream_id(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one order to set its upstream id.", messages.ERROR)
            return None
        order = queryset.get()
        form = UpstreamIdForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            if resolve.order_set_upstream_id(order_id=order.pk, upstream_id=form.cleaned_data["upstream_id"]):
                self.message_user(request, f"{order} is sent; its status will be polled.", messages.SUCCESS)
            else:
                self.message_user(request, f"{order} is not failed or unknown (or was refunded); nothing changed.",
                                  messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        context = {**self.admin_site.each_context(request), "title": "Set the upstream id", "order": order,
                   "form": form, "opts": self.model._meta,
                   "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return render(request, "admin/orders/order/set_upstream_id.html", context)

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
class RefillAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "upstream_id", "status", "stage", "error", "created_at")
    list_filter = ("status", "stage")


@admin.register(CancelRequest)
class CancelRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "upstream_id", "status", "stage", "error", "created_at")
    list_filter = ("status", "stage")
