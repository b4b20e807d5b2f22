"""Support tickets, the customer's side: the list, a new ticket, the thread with replies, closing."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from panel.web.views.common import customer_required, paginate, query_without_page
from support import selectors, services
from support.forms import ReplyForm, TicketForm, parse_order_ids
from support.models import Ticket
from support.services import TicketError, TicketNotFound


def _not_found(request):
    # The same answer for "no such ticket" and "someone else's ticket".
    return render(request, "web/not_found.html", status=404)


def _add_service_error(form, error: TicketError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@customer_required
def ticket_list(request):
    page = paginate(request, selectors.tickets_for_customer(customer=request.customer))
    return render(request, "web/tickets.html", {"page": page, "query": query_without_page(request)})


@customer_required
def ticket_new(request):
    if request.method == "POST":
        form = TicketForm(request.POST)
        if form.is_valid():
            try:
                ticket = services.ticket_open(customer=request.customer, subject=form.cleaned_data["subject"],
                                              message=form.cleaned_data["message"],
                                              order_ids=form.cleaned_data["orders"])
            except TicketError as error:
                _add_service_error(form, error)
            else:
                messages.success(request, _("Ticket #%(id)s sent. We will answer here, and by email.")
                                 % {"id": ticket.pk})
                return redirect("ticket_detail", ticket_id=ticket.pk)
    else:
        # "Ask support about this order" links here with ?order=<id>; ownership is checked when it is sent.
        initial = {}
        try:
            order_ids = parse_order_ids(request.GET.get("order", ""))[:1]
        except ValueError:
            order_ids = []
        if order_ids:
            initial = {"orders": str(order_ids[0]), "subject": Ticket.Subject.ORDER}
        form = TicketForm(initial=initial)
    return render(request, "web/ticket_new.html", {"form": form})


@customer_required
def ticket_detail(request, ticket_id: int):
    ticket = selectors.ticket_for_customer(customer=request.customer, ticket_id=ticket_id)
    if ticket is None:
        return _not_found(request)
    form = ReplyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.ticket_reply_customer(customer=request.customer, ticket_id=ticket.pk,
                                           message=form.cleaned_data["message"])
        except TicketNotFound:
            return _not_found(request)
        except TicketError as error:
            _add_service_error(form, error)
        else:
            messages.success(request, _("Reply sent."))
            return redirect("ticket_detail", ticket_id=ticket.pk)
    read_until = ticket.customer_read_at
    thread = list(selectors.thread_for_customer(ticket))
    for message in thread:
        message.is_new = message.is_staff and message.created_at > read_until
    services.ticket_mark_read_by_customer(ticket=ticket, now=timezone.now())
    return render(request, "web/ticket_detail.html", {
        "ticket": ticket, "thread": thread, "form": form,
        "orders": ticket.orders.select_related("service").order_by("id"),
        "is_closed": ticket.state == Ticket.State.CLOSED,
    })


@require_POST
@customer_required
def ticket_close(request, ticket_id: int):
    ticket = selectors.ticket_for_customer(customer=request.customer, ticket_id=ticket_id)
    if ticket is None:
        return _not_found(request)
    if services.ticket_close_by_customer(customer=request.customer, ticket_id=ticket.pk):
        messages.success(request, _("Ticket #%(id)s closed.") % {"id": ticket.pk})
    return redirect("ticket_detail", ticket_id=ticket.pk)
