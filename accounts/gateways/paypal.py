"""PayPal through the Orders v2 REST API.

The buyer approves an order on PayPal and comes back to the return page, whose `fetch_state` captures
it; PayPal then sends PAYMENT.CAPTURE.COMPLETED. The capture carries a `PayPal-Request-Id`, so asking
twice captures once, and an order another process already captured is read, not taken for an error.
Webhooks are checked by PayPal's own verify-webhook-signature call.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal

import requests
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

# PayPal takes no decimals for these currencies.
ZERO_DECIMAL_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
SIGNATURE_HEADERS = ("paypal-transmission-id", "paypal-transmission-time", "paypal-transmission-sig",
                     "paypal-cert-url", "paypal-auth-algo")
_CUSTOM_ID = re.compile(r"^deposit-(\d{1,18})$")


def paypal_amount(amount: Decimal, currency: str) -> str:
    """The amount as PayPal's string, rounded up so that the buyer never pays less than asked."""
    places = Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return f"{amount.quantize(places, rounding=ROUND_UP):f}"


def _deposit_id(*values: object) -> int | None:
    for value in values:
        match = _CUSTOM_ID.match(str(value or ""))
        if match:
            return int(match.group(1))
    return None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _body(answer: requests.Response) -> dict:
    try:
        return _dict(answer.json())
    except ValueError:
        return {}


def _issues(answer: requests.Response) -> set[str]:
    return {str(_dict(detail).get("issue", "")) for detail in _list(_body(answer).get("details"))}


def _error_name(answer: requests.Response) -> str:
    """PayPal's name of an error and its issues, for a GatewayError (they never carry a secret)."""
    name = str(_body(answer).get("name") or _body(answer).get("error") or "")[:80]
    issues = ", ".join(sorted(_issues(answer)))[:120]
    return f" ({name}{': ' + issues if issues else ''})" if name else ""


def _json(answer: requests.Response) -> dict:
    data = _body(answer)
    if not data:
        raise GatewayError(f"PayPal answered with something unreadable (HTTP {answer.status_code})")
    return data


def _no_constant(value: str) -> None:
    raise WebhookRefused(f"Not JSON: {value}")


class PayPalGateway(GatewayModule):
    kind = "paypal"
    credential_names = ("client_id", "client_secret", "webhook_id")
    default_api_base = "https://api-m.paypal.com"

    def __init__(self, gateway) -> None:
        super().__init__(gateway)
        self._session = requests.Session()
        self._token = ""
        self._token_expires = 0.0

    # --- HTTP -------------------------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        try:
            answer = self._session.post(
                f"{self.api_base}/v1/oauth2/token", data={"grant_type": "client_credentials"},
                auth=(self.credential("client_id"), self.credential("client_secret")),
                headers={"Accept": "application/json"}, timeout=self.timeout_seconds)
        except requests.RequestException as error:
            raise GatewayError(f"PayPal could not be reached: {type(error).__name__}") from None
        if answer.status_code != 200:
            raise GatewayError(f"PayPal refused the credentials (HTTP {answer.status_code})")
        try:
            data = _body(answer)
            token, lifetime = str(data["access_token"]), int(data.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError):
            raise GatewayError("PayPal answered the token request with something unreadable") from None
        # Renew a minute early so that no call goes out with a token about to expire.
        self._token, self._token_expires = token, time.monotonic() + max(lifetime - 60, 0)
        return token

    def _call(self, method: str, path: str, *, payload: dict | None = None, request_id: str = "",
              ok: tuple[int, ...] = (200, 201)) -> requests.Response:
        """One API call with the bearer token (renewed once if PayPal no longer takes it). Raises
        GatewayError for a network failure or an answer not in `ok`."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._access_token()}", "Accept": "application/json",
                       "Prefer": "return=representation"}
            if request_id:
                headers["PayPal-Request-Id"] = request_id
            try:
                answer = self._session.request(method, f"{self.api_base}{path}", json=payload, headers=headers,
                                               timeout=self.timeout_seconds)
            except requests.RequestException as error:
                raise GatewayError(f"PayPal could not be reached: {type(error).__name__}") from None
            if answer.status_code == 401 and attempt == 0:
                self._token = ""
                continue
            if answer.status_code in ok:
                return answer
            break
        raise GatewayError(f"PayPal answered {method} {path.split('?')[0]} with HTTP {answer.status_code}"
                           f"{_error_name(answer)}")

    @staticmethod
    def request_id(deposit, action: str) -> str:
        """The PayPal-Request-Id of one action on one deposit: the same on every retry, so PayPal does it once.
        The deposit's creation time keeps two sites (or a restored database) on one account apart."""
        created = deposit.created_at.strftime("%Y%m%d%H%M%S%f") if deposit.created_at else "0"
        return f"deposit-{deposit.pk}-{created}-{action}"

    # --- Checkout ---------------------------------------------------------------------------------------

    def create_checkout(self, deposit, *, success_url: str, cancel_url: str, webhook_url: str) -> Checkout:
        name = f"deposit-{deposit.pk}"
        order = {
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": name, "custom_id": name, "invoice_id": name,
                "description": f"Deposit #{deposit.pk}",
                "amount": {"currency_code": deposit.currency.upper(),
                           "value": paypal_amount(deposit.pay_amount, deposit.currency)},
            }],
            "payment_source": {"paypal": {"experience_context": {
                "return_url": success_url, "cancel_url": cancel_url, "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING",
            }}},
        }
        answer = self._call("POST", "/v2/checkout/orders", payload=order, request_id=self.request_id(deposit, "create"),
                            ok=(200, 201, 422))
        if answer.status_code == 422:
            raise GatewayError(f"PayPal refused the order{_error_name(answer)}")
        data = _json(answer)
        links = {str(_dict(link).get("rel")): str(_dict(link).get("href") or "") for link in _list(data.get("links"))}
        redirect = links.get("payer-action") or links.get("approve") or ""
        if not data.get("id") or not redirect:
            raise GatewayError("PayPal created no order to approve")
        return Checkout(reference=str(data["id"]), redirect_url=redirect)

    # --- The state of an order, captured if approved ----------------------------------------------------

    def fetch_state(self, deposit) -> PaymentState:
        order_id = deposit.reference
        path = f"/v2/checkout/orders/{requests.utils.quote(order_id, safe='')}"
        order = _json(self._call("GET", path))
        if order.get("status") == "APPROVED":
            answer = self._call("POST", f"{path}/capture", payload={}, request_id=self.request_id(deposit, "capture"),
                                ok=(200, 201, 422))
            if answer.status_code == 422:
                issues = _issues(answer)
                if "ORDER_ALREADY_CAPTURED" in issues:  # captured by another process: read what it captured
                    order = _json(self._call("GET", path))
                elif "INSTRUMENT_DECLINED" in issues:  # the buyer may choose another way to pay on PayPal
                    return self._state(Outcome.PENDING, deposit, order, note="PayPal declined the payment method")
                else:
                    raise GatewayError(f"PayPal did not capture the order{_error_name(answer)}")
            else:
                order = _json(answer)
        if order.get("id") != order_id:
            raise GatewayError("PayPal answered about another order")
        try:
            return self._order_state(deposit, order)
        except WebhookRefused as refused:  # an amount PayPal should never send
            raise GatewayError(refused.reason) from None

    def _state(self, outcome: str, deposit, order: dict, **fields) -> PaymentState:
        return PaymentState(outcome=outcome, reference=deposit.reference, deposit_id=deposit.pk, raw=order, **fields)

    def _order_state(self, deposit, order: dict) -> PaymentState:
        captures = {str(_dict(capture).get("status") or ""): _dict(capture)
                    for unit in _list(order.get("purchase_units"))
                    for capture in _list(_dict(_dict(unit).get("payments")).get("captures"))}
        if "COMPLETED" in captures:
            amount, currency = self._amount(captures["COMPLETED"])
            return self._state(Outcome.PAID, deposit, order, amount=amount, currency=currency)
        if "PARTIALLY_REFUNDED" in captures:  # paid, then partly given back: a person decides
            return self._state(Outcome.REVIEW, deposit, order, note="PayPal: the payment was partly refunded")
        failed = next((status for status in ("DECLINED", "FAILED", "REFUNDED") if status in captures), "")
        if failed or order.get("status") == "VOIDED":
            what = f"the capture was {failed.lower()}" if failed else "the order was voided"
            return self._state(Outcome.FAILED, deposit, order, note=f"PayPal: {what}")
        return self._state(Outcome.PENDING, deposit, order)

    @staticmethod
    def _amount(resource: dict) -> tuple[Decimal | None, str]:
        amount = _dict(resource.get("amount"))
        value = amount.get("value")
        return (None if value in (None, "") else decimal_from(value)), str(amount.get("currency_code") or "")

    # --- Webhooks ---------------------------------------------------------------------------------------

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentState:
        lowered = {str(name).lower(): str(value) for name, value in headers.items()}
        signature = {name: lowered.get(name, "").strip() for name in SIGNATURE_HEADERS}
        missing = [name for name, value in signature.items() if not value]
        if missing:
            raise WebhookRefused(f"Not signed by PayPal: no {missing[0]} header")
        try:
            event = json.loads(body, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRefused("The body is not JSON") from None
        if not isinstance(event, dict):
            raise WebhookRefused("The body is not a PayPal event")
        self._check_time(signature["paypal-transmission-time"])
        self._verify(signature, event)
        return self._event_state(event)

    @staticmethod
    def _check_time(value: str) -> None:
        try:
            sent = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise WebhookRefused("The transmission time is not a time") from None
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        age = (datetime.now(UTC) - sent).total_seconds()
        if abs(age) > settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRefused("The notification is stale (transmission time out of tolerance)")

    def _verify(self, signature: dict[str, str], event: dict) -> None:
        """PayPal's verify-webhook-signature: SUCCESS or refused. PayPal not answering raises GatewayError
        (the webhook is answered 5xx and PayPal sends it again later)."""
        payload = {
            "auth_algo": signature["paypal-auth-algo"], "cert_url": signature["paypal-cert-url"],
            "transmission_id": signature["paypal-transmission-id"],
            "transmission_sig": signature["paypal-transmission-sig"],
            "transmission_time": signature["paypal-transmission-time"],
            "webhook_id": self.credential("webhook_id"), "webhook_event": event,
        }
        answer = self._call("POST", "/v1/notifications/verify-webhook-signature", payload=payload,
                            ok=(200, 400, 422))
        if answer.status_code != 200:
            raise WebhookRefused(f"PayPal did not verify the notification{_error_name(answer)}")
        if _json(answer).get("verification_status") != "SUCCESS":
            raise WebhookRefused("PayPal did not verify the notification's signature")

    def _event_state(self, event: dict) -> PaymentState:
        kind, resource = str(event.get("event_type") or ""), _dict(event.get("resource"))
        if kind in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED"):  # the resource is the capture
            order_id = str(_dict(_dict(resource.get("supplementary_data")).get("related_ids")).get("order_id") or "")
            named = resource
        elif kind == "CHECKOUT.ORDER.VOIDED":  # the resource is the order
            order_id, named = str(resource.get("id") or ""), _dict((_list(resource.get("purchase_units")) or [None])[0])
        else:
            return PaymentState(outcome=Outcome.IGNORE, raw=event)
        deposit_id = _deposit_id(named.get("custom_id"), named.get("invoice_id"))
        if not order_id and deposit_id is None:
            return PaymentState(outcome=Outcome.IGNORE, raw=event)
        if kind != "PAYMENT.CAPTURE.COMPLETED":
            return PaymentState(outcome=Outcome.FAILED, reference=order_id, deposit_id=deposit_id, raw=event,
                                note=f"PayPal: {kind}")
        amount, currency = self._amount(resource)
        return PaymentState(outcome=Outcome.PAID, reference=order_id, deposit_id=deposit_id, amount=amount,
                            currency=currency, raw=event)
