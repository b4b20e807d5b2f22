"""Adding funds: automatic gateways (checkout, return page) and manual payment requests; gateway webhooks."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts import deposits
from accounts.gateways import GatewayError
from accounts.models import BonusTier, Deposit, Gateway, PaymentRequest
from accounts.services import MoneyError, payment_request_create
from panel.templatetags.web_format import money
from panel.web import throttle
from panel.web.forms import PAYMENT_METHODS, DepositForm, PaymentRequestForm
from panel.web.views.common import customer_required

RECENT = 50


def _enabled_gateways():
    return list(Gateway.objects.filter(is_enabled=True))


def _start_deposit(request, form: DepositForm):
    """Create the deposit and send the customer to the gateway's checkout; a form error when that fails."""
    gateway = form.cleaned_data["gateway"]
    return_url = request.build_absolute_uri(reverse("deposit_detail", args=[0])).replace("/0/", "/{id}/")
    try:
        deposit = deposits.deposit_start(
            customer=request.customer, gateway=gateway, amount=form.cleaned_data["amount"],
            success_url=return_url, cancel_url=return_url,
            webhook_url=request.build_absolute_uri(reverse("payment_webhook", args=[gateway.name])),
        )
    except MoneyError as error:
        form.add_error("amount", str(error))
    except GatewayError:
        form.add_error(None, _("The payment provider could not be reached. Please try again in a minute."))
    else:
        return redirect(deposit.checkout_url)
    return None


def _payment_allowed(request, form) -> bool:
    """Count one payment request or deposit of the customer; a form error once the hour's limit is reached."""
    if throttle.rate_hit(scope="payment", subject=request.customer.pk, limit=settings.PAYMENT_REQUESTS_PER_HOUR):
        return True
    form.add_error(None, _("You have started too many payments in the last hour. Please try again later."))
    return False


def _request_payment(request, form: PaymentRequestForm):
    """File a manual payment request; a form error when the amount is refused."""
    try:
        payment = payment_request_create(
            customer_id=request.customer.pk, amount=form.cleaned_data["amount"],
            method=form.cleaned_data["method"], reference=form.cleaned_data["reference"],
        )
    except MoneyError as error:
        form.add_error("amount", str(error))
        return None
    messages.success(request, _("Payment request #%(id)s sent. Your balance is credited once it is "
                                "approved.") % {"id": payment.pk})
    return redirect("funds")


@never_cache
@customer_required
def funds(request):
    customer = request.customer
    gateways = _enabled_gateways()
    deposit_form = DepositForm(request.POST if "gateway" in request.POST else None, gateways=gateways)
    manual_form = PaymentRequestForm(request.POST if "method" in request.POST else None)
    status = 200
    if request.method == "POST" and deposit_form.is_bound and deposit_form.is_valid():
        if not _payment_allowed(request, deposit_form):
            status = 429
        elif (response := _start_deposit(request, deposit_form)) is not None:
            return response
    elif request.method == "POST" and manual_form.is_bound and manual_form.is_valid():
        if not _payment_allowed(request, manual_form):
            status = 429
        elif (response := _request_payment(request, manual_form)) is not None:
            return response
    requests = PaymentRequest.objects.filter(customer=customer).order_by("-id")[:RECENT]
    methods = dict(PAYMENT_METHODS)
    for payment in requests:
        payment.method_label = methods.get(payment.method, payment.method)
    return render(request, "web/funds.html", {
        "customer": customer, "gateways": gateways, "deposit_form": deposit_form, "form": manual_form,
        "requests": requests, "bonus_tiers": list(BonusTier.objects.all()),
        "deposits": Deposit.objects.filter(customer=customer).select_related("gateway")[:RECENT],
        "fee_added": settings.PAYMENT_FEE_MODE == "add",
    }, status=status)


@require_GET
@customer_required
def deposit_quote(request):
    """What paying `amount` through `gateway` costs and credits: the page shows it before paying."""
    gateway = Gateway.objects.filter(name=request.GET.get("gateway", ""), is_enabled=True).first()
    if gateway is None:
        return JsonResponse({"error": _("Choose a payment method.")}, status=400)
    try:
        amount = Decimal(request.GET.get("amount", "").strip())
    except (InvalidOperation, ValueError):
        return JsonResponse({"error": _("Enter an amount.")}, status=400)
    try:
        quote = deposits.deposit_quote(gateway=gateway, amount=amount)
    except MoneyError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({
        "pay": f"{money(quote.pay_amount)} {quote.currency}", "fee": f"{money(quote.fee)} {quote.currency}",
        "credit": f"{money(quote.credit_amount)} {settings.PANEL_CURRENCY}",
        "bonus": f"{money(quote.bonus)} {settings.PANEL_CURRENCY}" if quote.bonus else "",
    })


def _own_deposit(request, deposit_id: int) -> Deposit | None:
    return Deposit.objects.filter(pk=deposit_id, customer=request.customer).select_related("gateway").first()


@never_cache
@customer_required
def deposit_detail(request, deposit_id: int):
    """The page the gateway sends the customer back to: asks the gateway once, then the page polls."""
    deposit = _own_deposit(request, deposit_id)
    if deposit is None:
        return render(request, "web/not_found.html", status=404)
    if deposit.status in deposits.OPEN:
        deposit = deposits.deposit_refresh(deposit_id=deposit.pk)
    request.customer.refresh_from_db(fields=["balance"])
    return render(request, "web/deposit.html", {"deposit": deposit, "customer": request.customer})


@never_cache
@require_GET
@customer_required
def deposit_status(request, deposit_id: int):
    deposit = _own_deposit(request, deposit_id)
    if deposit is None:
        return JsonResponse({"error": _("Not found")}, status=404)
    request.customer.refresh_from_db(fields=["balance"])
    return JsonResponse({"status": deposit.status, "label": _(deposit.get_status_display()),
                         "balance": f"{money(request.customer.balance)} {settings.PANEL_CURRENCY}"})


@csrf_exempt  # gateways cannot send our CSRF token; the signature check stands in for it
@require_POST
def payment_webhook(request, name: str):
    """A gateway's notification. Only what verification needs happens before the answer."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.PAYMENT_WEBHOOK_MAX_BYTES:
        return HttpResponse("too large", status=413, content_type="text/plain")
    body = request.body
    if len(body) > settings.PAYMENT_WEBHOOK_MAX_BYTES:
        return HttpResponse("too large", status=413, content_type="text/plain")
    status, text = deposits.deposit_webhook(gateway_name=name, body=body, headers=request.headers)
    return HttpResponse(text, status=status, content_type="text/plain")
