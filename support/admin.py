"""The support inbox in the admin: tickets are read-only rows, answered and acted on through support.services.

The ticket's page is the thread, the linked orders with what the pipeline knows of them, one button per
order action (each asking for a reason, kept in the audit log by the order services), and a reply box.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from orders.validation import whole_number
from support import selectors, services
from support.forms import ReasonForm, StaffReplyForm
from support.models import CannedReply, Ticket
from support.services import TicketError, TicketNotFound

# What each order button does, for its confirmation page; the keys are support.services.ORDER_ACTIONS'.
ORDER_ACTION_TEXT = {
    "send_again": ("Send again", "The order goes back to paid and a worker sends it to the provider again. "
                                 "Only a failed or unknown order, without an upstream id and not refunded, "
                                 "qualifies."),
    "cancel_and_refund": ("Cancel and refund", "The order becomes final and Canceled; what is left of its charge "
                                               "goes back to the customer. Only a paid, failed or unknown order "
                                               "qualifies."),
    "refill": ("Refill", "A refill is asked of the provider on the customer's behalf, as the customer could from "
                         "the order's page. Only a completed or partial order of a service with refill qualifies."),
}


class CustomerFilter(admin.SimpleListFilter):
    """Customers who have tickets, in one query (the stock related filter reads each customer's user)."""

    title = "customer"
    parameter_name = "customer"

    def lookups(self, request, model_admin):
        return list(Ticket.objects.order_by("customer__user__username")
                    .values_list("customer_id", "customer__user__username").distinct())

    def queryset(self, request, queryset):
        customer_id = whole_number(self.value())
        return queryset if customer_id is None else queryset.filter(customer_id=customer_id)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "about", "customer", "state", "unread", "last_message_at")
    list_display_links = ("id", "about")
    list_filter = ("state", CustomerFilter, "subject")
    search_fields = ("=id", "customer__user__username", "summary")
    list_select_related = ("customer__user",)
    ordering = ("-last_message_at", "-id")
    list_per_page = 50

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Support inbox", **(extra_context or {})})

    def get_queryset(self, request):
        return selectors.staff_inbox().select_related("customer__user").order_by(*self.ordering)

    @admin.display(description="Subject")
    def about(self, ticket: Ticket):
        return f"{ticket.get_subject_display()}: {ticket.summary}" if ticket.summary else ticket.get_subject_display()

    @admin.display(description="Unread", ordering="staff_unread")
    def unread(self, ticket: Ticket):
        return format_html("<strong>{}</strong>", ticket.staff_unread) if ticket.staff_unread else "—"

    # Opened by customers, changed only through the services; kept as the record of what was said.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- the ticket's page ---------------------------------------------------------------------

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("<path:object_id>/reply/", view(self.reply_view), name="support_ticket_reply"),
            path("<path:object_id>/close/", view(self.close_view), name="support_ticket_close"),
            path("<path:object_id>/orders/<int:order_id>/<slug:action>/", view(self.order_action_view),
                 name="support_ticket_order_action"),
            *super().get_urls(),
        ]

    def _ticket(self, request, object_id: str, *, change: bool) -> Ticket:
        ticket = self.get_object(request, unquote(object_id))
        if ticket is None:
            raise Http404("No such ticket")
        allowed = self.has_change_permission(request, ticket) if change else \
            self.has_view_or_change_permission(request, ticket)
        if not allowed:
            raise PermissionDenied
        return ticket

    def _page_url(self, ticket: Ticket) -> str:
        return reverse("admin:support_ticket_change", args=[ticket.pk])

    def _thread_page(self, request, ticket: Ticket, form: StaffReplyForm, *, status: int = 200):
        canned = list(CannedReply.objects.all())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ticket #{ticket.pk}: {ticket.get_subject_display()}",
            "ticket": ticket, "opts": self.opts, "form": form, "canned": canned,
            "thread": list(selectors.thread_for_staff(ticket)),
            "orders": list(selectors.ticket_orders_for_staff(ticket)),
            "order_actions": [(key, label) for key, (label, _explanation) in ORDER_ACTION_TEXT.items()],
            "can_change": self.has_change_permission(request, ticket),
            "is_closed": ticket.state == Ticket.State.CLOSED,
        }
        return TemplateResponse(request, "admin/support/ticket/thread.html", context, status=status)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self._ticket(request, object_id, change=False)
        if request.method == "POST":
            return HttpResponseRedirect(self._page_url(ticket))  # nothing on the ticket is edited directly
        services.ticket_mark_read_by_staff(ticket_id=ticket.pk)
        return self._thread_page(request, ticket, StaffReplyForm())

    def reply_view(self, request, object_id):
        ticket = self._ticket(request, object_id, change=True)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(ticket))
        form = StaffReplyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.ticket_reply_staff(ticket_id=ticket.pk, author=request.user, message=data["message"],
                                            internal=data["internal"], close=data["close"])
            except TicketError as error:
                form.add_error("message", error.message)
            else:
                done = "Internal note added" if data["internal"] else "Reply sent; the customer is mailed"
                self.message_user(request, done + (" and the ticket closed." if data["close"] else "."),
                                  messages.SUCCESS)
                return HttpResponseRedirect(self._page_url(ticket))
        return self._thread_page(request, ticket, form, status=400)

    def close_view(self, request, object_id):
        ticket = self._ticket(request, object_id, change=True)
        if request.method == "POST":
            if services.ticket_close_by_staff(ticket_id=ticket.pk, actor=request.user):
                self.message_user(request, f"Ticket #{ticket.pk} closed.", messages.SUCCESS)
            else:
                self.message_user(request, f"Ticket #{ticket.pk} was closed already.", messages.WARNING)
        return HttpResponseRedirect(self._page_url(ticket))

    def order_action_view(self, request, object_id, order_id: int, action: str):
        if action not in ORDER_ACTION_TEXT:
            raise Http404("No such action")
        ticket = self._ticket(request, object_id, change=True)
        order = selectors.ticket_orders_for_staff(ticket).filter(pk=order_id).first()
        if order is None:
            raise Http404("That order is not linked to this ticket")
        label, explanation = ORDER_ACTION_TEXT[action]
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                refusal = services.ticket_order_action(ticket_id=ticket.pk, order_id=order.pk, action=action,
                                                       actor=request.user, reason=form.cleaned_data["reason"])
            except TicketError as error:
                form.add_error("reason", error.message)
            except TicketNotFound as error:
                raise Http404("That order is not linked to this ticket") from error
            else:
                if refusal:
                    self.message_user(request, f"{label}, order #{order.pk}: {refusal}. Nothing changed.",
                                      messages.ERROR)
                else:
                    self.message_user(request, f"{label}, order #{order.pk}: done (see the audit log).",
                                      messages.SUCCESS)
                return HttpResponseRedirect(self._page_url(ticket))
        return TemplateResponse(request, "admin/support/ticket/order_action.html", {
            **self.admin_site.each_context(request), "title": f"{label}: order #{order.pk}",
            "ticket": ticket, "order": order, "explanation": explanation, "form": form, "label": label,
            "opts": self.opts, "ticket_url": self._page_url(ticket),
        })


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "preview")
    search_fields = ("title", "body")

    @admin.display(description="Text")
    def preview(self, reply: CannedReply):
        return reply.body if len(reply.body) <= 100 else reply.body[:99] + "…"
