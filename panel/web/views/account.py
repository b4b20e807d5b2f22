"""Dashboard, price list, transactions, API key and account settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Deposit, LedgerEntry
from accounts.services import api_key_generate
from news.selectors import announcements_for_user
from notify.preferences import mail_language, preferences_for, preferences_save
from orders import selectors
from orders.models import Status
from orders.validation import whole_number
from panel.web.forms import PAYMENT_METHODS, ApiKeyConfirmForm, MailPreferencesForm, TimezoneForm
from panel.web.views.common import customer_required, paginate, query_without_page
from panel.web.views.webhooks import webhooks_context
from providers.pricing import customer_rate
from providers.selectors import services_orderable

NEW_KEY_SESSION = "new_api_key"
# Set by sign-up: the first dashboard greets a new customer (not "welcome back") and shows their API key once.
SIGNED_UP_SESSION = "signed_up"
RECENT_ORDERS = 10
RECENT_DEPOSITS = 20


@customer_required
def dashboard(request):
    customer = request.customer
    counts = selectors.order_status_counts(customer=customer)
    recent = list(selectors.orders_for_customer(customer=customer)[:RECENT_ORDERS])
    return render(request, "web/dashboard.html", {
        "customer": customer,
        "total_spent": selectors.customer_total_spent(customer=customer),
        "orders_total": sum(counts.values()),
        "status_counts": [(value, label, counts.get(value, 0)) for value, label in Status.choices
                          if counts.get(value) or value in (Status.PENDING, Status.IN_PROGRESS, Status.COMPLETED)],
        "recent": recent,
        "just_signed_up": request.session.pop(SIGNED_UP_SESSION, False),
        "new_key": request.session.pop(NEW_KEY_SESSION, None),  # the key made at sign-up: shown once, then gone
        "announcements": announcements_for_user(user=request.user, now=timezone.now()),
    })


@customer_required
def service_list(request):
    search = request.GET.get("q", "").strip()
    services = (
        services_orderable()
        .select_related("category", "speed")  # speed: the average time, in the same query
        .order_by("category__sort_order", "category__name", "name", "id")
    )
    if "\x00" in search:
        # No name holds a NUL (PostgreSQL refuses one in a query at all): nothing matches.
        services = services.none()
    elif search:
        query = Q(name__icontains=search) | Q(category__name__icontains=search) | Q(type__icontains=search)
        service_id = whole_number(search)  # not isdigit(): "²" passes it and fails int()
        if service_id is not None:
            query |= Q(pk=service_id)
        services = services.filter(query)
    groups: dict = {}
    for service in services:
        service.customer_rate = customer_rate(service=service, discount_percent=request.customer.discount_percent)
        groups.setdefault(service.category, []).append(service)
    return render(request, "web/services.html", {"groups": list(groups.items()), "search": search})


@customer_required
def transactions(request):
    entries = LedgerEntry.objects.filter(customer=request.customer).select_related("payment_request").order_by("-id")
    page = paginate(request, entries)
    causes = dict(LedgerEntry.Cause.choices)
    methods = dict(PAYMENT_METHODS)
    for entry in page.object_list:
        entry.cause_label = causes.get(entry.cause, entry.cause)
        entry.shown_note = entry.note
        payment = getattr(entry, "payment_request", None)
        if payment is not None:
            # The stored note names the method by its code ("e_wallet"); the customer reads its name.
            method = str(methods.get(payment.method, payment.method))
            entry.shown_note = " · ".join(filter(None, (f"#{payment.pk}", method, payment.reference)))
    return render(request, "web/transactions.html", {
        "page": page, "query": query_without_page(request), "customer": request.customer,
        "deposits": Deposit.objects.filter(customer=request.customer).select_related("gateway")[:RECENT_DEPOSITS],
    })


def api_page(request, *, form=None, webhook_form=None, status: int = 200):
    """The API page: the key, and the status webhooks (panel.web.views.webhooks)."""
    new_key = request.session.pop(NEW_KEY_SESSION, None) if status == 200 else None  # shown once, then gone
    return render(request, "web/api_key.html", {
        "customer": request.customer, "new_key": new_key, "form": form or ApiKeyConfirmForm(),
        **webhooks_context(request, form=webhook_form),
    }, status=status)


@customer_required
def api_access(request):
    return api_page(request)


@require_POST
@customer_required
def api_key_regenerate(request):
    form = ApiKeyConfirmForm(request.POST)
    if not form.is_valid():
        return api_page(request, form=form, status=400)
    request.session[NEW_KEY_SESSION] = api_key_generate(customer=request.customer)
    messages.success(request, _("A new API key was generated. The old key no longer works."))
    return redirect("api_access")


@customer_required
def account(request):
    customer = request.customer
    password_form = PasswordChangeForm(request.user)
    timezone_form = TimezoneForm(initial={"timezone": customer.timezone})
    wanted, language = preferences_for(customer_id=customer.pk)
    mail_form = MailPreferencesForm(initial=MailPreferencesForm.initial_for(
        wanted=wanted, language=language or mail_language(request.LANGUAGE_CODE)))
    if request.method == "POST" and request.POST.get("action") == "password":
        password_form = PasswordChangeForm(request.user, request.POST)
        if password_form.is_valid():
            user = password_form.save()
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password was changed."))
            return redirect("account")
    elif request.method == "POST" and request.POST.get("action") == "timezone":
        timezone_form = TimezoneForm(request.POST)
        if timezone_form.is_valid():
            customer.timezone = timezone_form.cleaned_data["timezone"]
            customer.save(update_fields=["timezone"])
            messages.success(request, _("Times are now shown in %(tz)s.") % {"tz": customer.timezone})
            return redirect("account")
    elif request.method == "POST" and request.POST.get("action") == "mail":
        mail_form = MailPreferencesForm(request.POST)
        if mail_form.is_valid():
            preferences_save(customer_id=customer.pk, wanted=mail_form.wanted(),
                             language=mail_form.cleaned_data["language"])
            messages.success(request, _("Your mail choices were saved."))
            return redirect("account")
    return render(request, "web/account.html", {
        "customer": customer, "password_form": password_form, "timezone_form": timezone_form,
        "mail_form": mail_form,
    })
