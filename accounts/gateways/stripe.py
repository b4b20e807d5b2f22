"""Stripe Checkout: a Checkout Session per deposit, its signed webhooks, and the session read back.

Everything goes through the official `stripe` SDK: the API calls through a `StripeClient` pointed at the
gateway's `api_base`, and webhook verification through `stripe.Webhook.construct_event` (HMAC-SHA256 of
"<timestamp>.<body>" with the endpoint's signing secret, and a timestamp no older than
PAYMENT_WEBHOOK_TOLERANCE_SECONDS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings

from accounts.gateways.base import (
    Checkout,
    GatewayError,
    GatewayModule,
    Outcome,
    PaymentState,
    WebhookRefused,
    decimal_from,
)

if TYPE_CHECKING:
    from accounts.models import Deposit

# Currencies whose minor unit is not the cent: Stripe counts their amounts in units (zero-decimal) or in
# thousandths (three-decimal). https://docs.stripe.com/currencies#special-cases
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

PAID_TYPES = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
SIGNATURE_HEADER = "Stripe-Signature"


def minor_unit_exponent(currency: str) -> int:
    """How many decimals Stripe's integer amounts carry in `currency`."""
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def to_cents(amount: Decimal, currency: str) -> int:
    """A positive amount of a two-decimal currency as integer cents, exactly. Raises GatewayError."""
    if minor_unit_exponent(currency) != 2:
        raise GatewayError(f"Stripe checkout supports two-decimal currencies only, not {currency.upper()}")
    cents = Decimal(amount).scaleb(2)
    if not cents.is_finite() or cents <= 0 or cents != cents.to_integral_value():
        raise GatewayError(f"Stripe cannot charge {amount} {currency.upper()}: not a whole number of cents")
    return int(cents)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def _deposit_id(session: Mapping[str, Any]) -> int | None:
    metadata = session.get("metadata") if isinstance(session.get("metadata"), Mapping) else {}
    for value in (metadata.get("deposit_id"), session.get("client_reference_id")):
        if isinstance(value, str) and value.isdecimal():
            return int(value)
    return None


def _without_secrets(value: Any) -> Any:
    """The event or session as plain JSON data, minus the session's client secret (embedded checkouts)."""
    if isinstance(value, Mapping):
        return {key: _without_secrets(item) for key, item in value.items() if key != "client_secret"}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


def session_state(session: Mapping[str, Any], *, paid: bool, raw: Mapping[str, Any]) -> PaymentState:
    """A session the gateway reports as paid (`paid`): PAID with what Stripe says it collected."""
    common = {"reference": str(session.get("id") or ""), "deposit_id": _deposit_id(session), "raw": raw}
    payment_status = session.get("payment_status")
    if not paid or payment_status == "unpaid":
        return PaymentState(outcome=Outcome.PENDING, **common)
    if payment_status != "paid":
        return PaymentState(outcome=Outcome.REVIEW, note=f"Stripe checkout completed as {payment_status!r}",
                            **common)
    currency = session.get("currency")
    total = session.get("amount_total")
    if not isinstance(currency, str) or not currency or not isinstance(total, int) or isinstance(total, bool):
        return PaymentState(outcome=Outcome.REVIEW, note="Stripe reported a payment without its amount", **common)
    amount = decimal_from(total, minor_units=True, exponent=minor_unit_exponent(currency))
    return PaymentState(outcome=Outcome.PAID, amount=amount, currency=currency.upper(), **common)


class StripeGateway(GatewayModule):
    kind = "stripe"
    credential_names = ("secret_key", "webhook_secret")
    default_api_base = "https://api.stripe.com"

    def _call(self, call: Callable[[stripe.StripeClient], Any]) -> dict[str, Any]:
        """One API call through the SDK, as a plain dict; any failure is a GatewayError without secrets."""
        secret_key = self.credential("secret_key")
        client = stripe.StripeClient(
            secret_key, base_addresses={"api": self.api_base}, max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=self.timeout_seconds),
        )
        try:
            return call(client).to_dict()
        except stripe.StripeError as error:
            detail = error.user_message or type(error).__name__
            for secret in (self.gateway.credentials or {}).values():
                if isinstance(secret, str) and secret:
                    detail = detail.replace(secret, "***")
            status = f" (HTTP {error.http_status})" if error.http_status else ""
            raise GatewayError(f"Stripe{status}: {detail}"[:400]) from None

    def create_checkout(self, deposit: Deposit, *, success_url: str, cancel_url: str,
                        webhook_url: str) -> Checkout:
        cents = to_cents(deposit.pay_amount, deposit.currency)
        params = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": deposit.currency.lower(), "unit_amount": cents,
                "product_data": {"name": f"Deposit #{deposit.pk}"},
            }}],
            "client_reference_id": str(deposit.pk),
            "metadata": {"deposit_id": str(deposit.pk)},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = self._call(lambda client: client.v1.checkout.sessions.create(params=params))
        reference, url = session.get("id"), session.get("url")
        if not isinstance(reference, str) or not reference or not isinstance(url, str) or not url:
            raise GatewayError("Stripe answered a checkout session without its id or url")
        return Checkout(reference=reference, redirect_url=url)

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentState:
        secret = self.credential("webhook_secret")
        try:
            event = stripe.Webhook.construct_event(body, _header(headers, SIGNATURE_HEADER), secret,
                                                   tolerance=settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as error:
            raise WebhookRefused(f"Stripe signature: {error.user_message}") from None
        except ValueError:  # not UTF-8, not JSON, or not a snapshot event
            raise WebhookRefused("Not a Stripe event") from None
        data = _without_secrets(event.to_dict(for_json=True))
        event_type = data.get("type")
        session = (data.get("data") or {}).get("object") if isinstance(data.get("data"), Mapping) else None
        if not isinstance(session, Mapping) or session.get("object") != "checkout.session":
            return PaymentState(outcome=Outcome.IGNORE, raw=data)
        common = {"reference": str(session.get("id") or ""), "deposit_id": _deposit_id(session), "raw": data}
        if event_type in PAID_TYPES:
            return session_state(session, paid=True, raw=data)
        if event_type == "checkout.session.expired":
            return PaymentState(outcome=Outcome.EXPIRED, note="The Stripe checkout expired", **common)
        if event_type == "checkout.session.async_payment_failed":
            return PaymentState(outcome=Outcome.FAILED, note="The Stripe payment failed", **common)
        return PaymentState(outcome=Outcome.IGNORE, **common)

    def fetch_state(self, deposit: Deposit) -> PaymentState:
        if not deposit.reference:
            return PaymentState(outcome=Outcome.PENDING, deposit_id=deposit.pk)
        session = _without_secrets(self._call(lambda client: client.v1.checkout.sessions.retrieve(deposit.reference)))
        if session.get("id") != deposit.reference:
            raise GatewayError("Stripe answered another checkout session than the one asked for")
        status = session.get("status")
        if status == "expired":
            return PaymentState(outcome=Outcome.EXPIRED, reference=deposit.reference, deposit_id=deposit.pk,
                                note="The Stripe checkout expired", raw=session)
        state = session_state(session, paid=status == "complete", raw=session)
        return PaymentState(outcome=state.outcome, reference=deposit.reference, deposit_id=deposit.pk,
                            amount=state.amount, currency=state.currency, note=state.note, raw=session)
