"""New order, mass order, the orders list with refill and cancel, and the refills list."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import InsufficientFunds
from orders import selectors
from orders.models import Source, Status
from orders.services import cancels_request, order_create, refills_request, service_for_order
from orders.subscriptions import OUT_OF_FUNDS
from orders.validation import OrderInputError, order_quote
from panel.templatetags.web_format import money
from panel.web import order_help
from panel.web.forms import MassOrderForm, OrderForm
from panel.web.mass import MassOrderTooLong, mass_order_example, mass_order_place
from panel.web.views.common import customer_required, paginate, query_without_page, safe_next
from providers.models import Category, Service
from providers.ordertypes import ORDER_TYPES, SUBSCRIPTIONS
from providers.pricing import customer_rate, format_money_apart, money_plain
from providers.selectors import services_orderable


def _orderable_services():
    return services_orderable().select_related("category").order_by("category__sort_order", "category__name",
                                                                     "name", "id")


@customer_required
def order_new(request):
    customer = request.customer
    services = list(_orderable_services())
    categories = Category.objects.filter(pk__in={s.category_id for s in services})
    for service in services:
        service.customer_rate = customer_rate(service=service, discount_percent=customer.discount_percent)

    service = None
    raw_service = request.POST.get("service") if request.method == "POST" else request.GET.get("service")
    if raw_service:
        try:
            service = service_for_order(raw_service)
        except OrderInputError:
            messages.error(request, _("This service is not available. Choose another one."))
    category_id = request.GET.get("category", "")
    if service is not None:
        category_id = str(service.category_id)
        service.customer_rate = customer_rate(service=service, discount_percent=customer.discount_percent)

    if service is None and category_id:
        # Without JavaScript the category is chosen by submitting the picker; narrow the list server-side.
        services = [s for s in services if str(s.category_id) == category_id]
    form = None
    if service is not None:
        form = OrderForm(request.POST if request.method == "POST" else None, service=service)
        if request.method == "POST" and form.is_valid():
            try:
                order = order_create(customer=customer, service=service, data=form.cleaned_data, source=Source.WEB)
            except OrderInputError as error:
                form.add_error(form.error_field(error.field), error.localized())
            except InsufficientFunds as error:
                needed, available = format_money_apart(error.needed, error.available)
                form.add_error(None, _("Not enough funds on balance: this order costs %(needed)s, your balance is "
                                       "%(available)s.") % {"needed": needed, "available": available})
            else:
                messages.success(request, _("Order #%(id)s placed; %(charge)s charged.")
                                 % {"id": order.pk, "charge": f"{money(order.charge)} {settings.PANEL_CURRENCY}"})
                return redirect("orders")
    return render(request, "web/order_new.html", {
        "services": services, "categories": categories, "category_id": category_id,
        "service": service, "form": form, "customer": customer,
        "order_type": ORDER_TYPES[service.type] if service else None,
        "type_note": order_help.type_note(service) if service else "",
        "charge_shown": _charge_shown(service, form, customer) if service else "",
        "is_subscription": service is not None and service.type == SUBSCRIPTIONS,
    })


def _charge_shown(service: Service, form: OrderForm, customer) -> str:
    """The charge for the form as it stands, for the first paint (and pages without JavaScript); "—" until
    the fields price an order. The script then asks order_quote_view as the customer types."""
    try:
        charge = order_quote(service=service, data=form.data if form.is_bound else {},
                             discount_percent=customer.discount_percent)
    except OrderInputError:
        return "—"
    return money(charge)


@require_http_methods(["GET", "POST"])
@customer_required
def order_quote_view(request):
    """What the order form's fields would cost this customer: the form's live charge, priced by the server.

    The form's own fields, `?service=ID&quantity=N&runs=R&...` or POSTed (a list field outgrows a URL), give
    {"charge": "0.07443", "display": "0.0744", "currency": "USD"}: `charge` is the exact figure in plain digits,
    `display` the same as every page shows it (providers.pricing.format_money, in the customer's language),
    which the page puts in as it is. Or {"error": "..."} with a 400, in the customer's language: this is the
    page's endpoint, not the API.
    """
    data = request.POST if request.method == "POST" else request.GET
    try:
        service = service_for_order(data.get("service"))
        charge = order_quote(service=service, data=data, discount_percent=request.customer.discount_percent)
    except OrderInputError as error:
        return JsonResponse({"error": error.localized()}, status=400)
    return JsonResponse({"charge": money_plain(charge), "display": money(charge),
                         "currency": settings.PANEL_CURRENCY})


@customer_required
def order_mass(request):
    example = mass_order_example()
    form = MassOrderForm(request.POST or None, example=example)
    results = None
    if request.method == "POST" and form.is_valid():
        try:
            results = mass_order_place(customer=request.customer, text=form.cleaned_data["orders"])
        except MassOrderTooLong as error:
            form.add_error("orders", str(error))
        else:
            placed = sum(1 for r in results if r.order)
            request.customer.refresh_from_db(fields=["balance"])
            messages.info(request, _("%(ok)s of %(all)s orders placed.") % {"ok": placed, "all": len(results)})
    return render(request, "web/order_mass.html", {"form": form, "results": results,
                                                   "example": example})


# Refusals a list row leaves out: the service has no refill at all, or the order is not finished yet.
_UNREMARKABLE_REFUSALS = (selectors.REFILL_NOT_AVAILABLE, selectors.REFILL_NOT_YET)


def _refill_state(order, *, now, listed: bool) -> None:
    """`can_refill` for the button, and `refill_note`: why not, or when ("Refill available in 5 h")."""
    reason = selectors.refill_refusal(order, now=now)
    order.can_refill = reason is None
    order.refill_note = ""
    if reason is not None and order.service.refill and not (listed and reason.template in _UNREMARKABLE_REFUSALS):
        order.refill_note = reason.localized()


def _refill_rules(service: Service) -> str:
    """The service's refill rules in a line, e.g. "within 30 days after completion · up to 3 refills per order"."""
    rules = []
    if service.refill_days is not None:
        rules.append(ngettext("within %(days)s day after completion", "within %(days)s days after completion",
                              service.refill_days) % {"days": service.refill_days})
    if service.refill_max is not None:
        rules.append(ngettext("up to %(max)s refill per order", "up to %(max)s refills per order",
                              service.refill_max) % {"max": service.refill_max})
    if service.refill_cooldown_hours:
        rules.append(ngettext("%(hours)s hour between refills", "%(hours)s hours between refills",
                              service.refill_cooldown_hours) % {"hours": service.refill_cooldown_hours})
    return " · ".join(rules)


@customer_required
def order_list(request):
    status = request.GET.get("status", "")
    search = request.GET.get("q", "")
    queryset = selectors.orders_for_customer(customer=request.customer, status=status, search=search)
    page = paginate(request, queryset)
    now = timezone.now()
    for order in page.object_list:
        _refill_state(order, now=now, listed=True)
        order.can_cancel = selectors.cancel_refusal(order) is None
    return render(request, "web/orders.html", {
        "page": page, "status": status, "search": search, "statuses": Status.choices,
        "query": query_without_page(request),
    })


@customer_required
def order_detail(request, order_id: int):
    order = selectors.order_for_customer(customer=request.customer, order_id=order_id)
    if order is None:
        # The same answer for "no such order" and "someone else's order".
        return render(request, "web/not_found.html", status=404)
    _refill_state(order, now=timezone.now(), listed=False)
    order.refill_rules = _refill_rules(order.service)
    order.can_cancel = selectors.cancel_refusal(order) is None
    order.posts_paid = order.sub_posts + (order.sub_old_posts or 0) if order.sub_posts else None
    # The admin's attention notes stay internal, except the one that tells the customer why we stopped.
    order.customer_notice = _(OUT_OF_FUNDS) if order.attention == OUT_OF_FUNDS else ""
    return render(request, "web/order_detail.html", {
        "order": order, "history": order.history.all()[:100], "refills": order.refills.all()[:50],
        "cancels": order.cancel_requests.all()[:50],
    })


def _report(request, results: dict, done_message: str) -> None:
    for _order_id, result in results.items():
        if isinstance(result, selectors.Reason):
            messages.error(request, result.localized())
        elif isinstance(result, str):
            messages.error(request, _(result))  # the API's English sentence, in the catalogue (panel.web.catalog)
        else:
            messages.success(request, done_message)


@require_POST
@customer_required
def order_refill(request, order_id: int):
    results = refills_request(customer=request.customer, order_ids=[order_id])
    _report(request, results, _("Refill requested for order #%(id)s.") % {"id": order_id})
    return redirect(safe_next(request, reverse("refills")))


@require_POST
@customer_required
def order_cancel(request, order_id: int):
    results = cancels_request(customer=request.customer, order_ids=[order_id])
    _report(request, results, _("Cancellation requested for order #%(id)s.") % {"id": order_id})
    return redirect(safe_next(request, reverse("orders")))


@customer_required
def refill_list(request):
    page = paginate(request, selectors.refills_for_customer(customer=request.customer))
    return render(request, "web/refills.html", {"page": page, "query": query_without_page(request)})


