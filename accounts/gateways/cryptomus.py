"""Cryptomus: crypto invoices (https://doc.cryptomus.com).

Every API call is a JSON POST with two headers: `merchant` (the merchant's uuid) and
`sign = md5(base64(body) + payment_key)`. An invoice is `POST /v1/payment`; what it says now is
`POST /v1/payment/info`. Cryptomus POSTs the invoice to `url_callback` whenever its status changes, with
the signature in the body's `sign` field, computed over the rest of the body as PHP's
`json_encode($data, JSON_UNESCAPED_UNICODE)` writes it; there is no timestamp, so a replay is harmless
only because accounts.deposits credits a deposit once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from decimal import Decimal

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

ORDER_PREFIX = "deposit-"
_ORDER_ID = re.compile(r"deposit-([1-9][0-9]{0,17})")
PAID = ("paid", "paid_over")
WRONG_AMOUNT = "wrong_amount"
FAILED = ("cancel", "fail", "system_fail")
CENTS = Decimal("0.01")


def php_json(data: object) -> str:
    """`data` as PHP's json_encode($data, JSON_UNESCAPED_UNICODE) writes it after json_decode($body, true):
    no spaces, non-ASCII as is, "/" as "\\/", U+2028/U+2029 still escaped, and an empty object as []
    (PHP decodes {} into an empty array)."""
    text = json.dumps(_php_values(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _php_values(value: object) -> object:
    if isinstance(value, dict):
        return {key: _php_values(item) for key, item in value.items()} if value else []
    if isinstance(value, list):
        return [_php_values(item) for item in value]
    return value


def signature(body: str | bytes, key: str) -> str:
    """md5(base64(body) . key), hex: the documented signature of a request body or a webhook."""
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.md5(base64.b64encode(raw) + key.encode()).hexdigest()


def deposit_id_from(order_id: object) -> int | None:
    match = _ORDER_ID.fullmatch(order_id) if isinstance(order_id, str) else None
    return int(match.group(1)) if match else None


def _amount_text(amount: Decimal) -> str:
    """Two decimals at least, more only when the amount has them (never rounded away)."""
    return f"{amount.quantize(CENTS) if amount == amount.quantize(CENTS) else amount.normalize():f}"


def _optional_amount(value: object) -> Decimal | None:
    return None if value in (None, "") else decimal_from(value)


def received_amount(data: Mapping, status: str) -> Decimal | None:
    """What the payer paid, in the invoice's currency; None when Cryptomus gives no such figure.

    Cryptomus reports `payment_amount` (what the payer sent) and `merchant_amount` (what reaches the
    merchant after Cryptomus's commission), both in `payer_currency`, and `payment_amount_usd`. The
    customer is credited for what they paid, so the gross `payment_amount` when the payer paid in the
    invoice's currency: the gateway's commission is quoted to the customer as the gateway's fee, so crediting
    the net `merchant_amount` would charge it twice. Paid in another currency (a USD invoice paid in
    USDT), the invoice-currency figure is `payment_amount_usd` for a USD invoice, and none otherwise.

    `paid` means Cryptomus judged the invoice paid in full: its `amount`, or less when the payment in the
    invoice's currency shows less (inside Cryptomus's accuracy margin), so that deposits holds it. A
    converted figure is not used for `paid` (exchange rates move a little); `paid_over` credits at least the
    invoice's amount.
    """
    invoice = decimal_from(data.get("amount"))
    currency = str(data.get("currency") or "").upper()
    payer_currency = str(data.get("payer_currency") or currency).upper()
    if payer_currency == currency:
        paid = _optional_amount(data.get("payment_amount"))
    elif currency == "USD" and status != "paid":
        paid = _optional_amount(data.get("payment_amount_usd"))
    else:
        paid = None
    if status == "paid":
        return invoice if paid is None else min(paid, invoice)
    if status == "paid_over":
        return invoice if paid is None else max(paid, invoice)
    return paid


def _is_final(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def payment_state(data: Mapping) -> PaymentState:
    """An invoice, from a webhook or payment info, as a PaymentState."""
    reference = str(data.get("uuid") or "")
    deposit_id = deposit_id_from(data.get("order_id"))
    raw = dict(data)
    if deposit_id is None or data.get("type", "payment") != "payment":
        return PaymentState(outcome=Outcome.IGNORE, reference=reference, raw=raw)
    status = str(data.get("status") or data.get("payment_status") or "")
    found = {"reference": reference, "deposit_id": deposit_id, "raw": raw}
    if not _is_final(data.get("is_final")):
        return PaymentState(outcome=Outcome.PENDING, note=f"Cryptomus: {status}", **found)
    currency = str(data.get("currency") or "").upper()
    if status in PAID:
        return PaymentState(outcome=Outcome.PAID, amount=received_amount(data, status), currency=currency, **found)
    if status == WRONG_AMOUNT:
        amount = received_amount(data, status)
        note = (f"Cryptomus: wrong amount, {data.get('payment_amount') or '?'} {data.get('payer_currency') or ''} "
                f"paid for {data.get('amount')} {currency}")
        credit = settings.PAYMENT_WRONG_AMOUNT == "credit"
        return PaymentState(outcome=Outcome.PAID if credit else Outcome.REVIEW, amount=amount,
                            currency=currency if amount is not None else "", note=note, less_is_final=credit,
                            **found)
    if status in FAILED:
        return PaymentState(outcome=Outcome.FAILED, note=f"Cryptomus: {status}", **found)
    return PaymentState(outcome=Outcome.IGNORE, **found)  # refunds and anything newer: nothing to credit


class CryptomusGateway(GatewayModule):
    kind = "cryptomus"
    credential_names = ("merchant", "payment_key")
    default_api_base = "https://api.cryptomus.com"

    def _call(self, path: str, payload: Mapping) -> dict:
        body = php_json(payload).encode()
        headers = {"merchant": self.credential("merchant"), "sign": signature(body, self.credential("payment_key")),
                   "Content-Type": "application/json", "Accept": "application/json"}
        try:
            response = requests.post(f"{self.api_base}{path}", data=body, headers=headers,
                                     timeout=self.timeout_seconds)
        except requests.RequestException as error:
            raise GatewayError(f"Cryptomus {path}: {type(error).__name__}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise GatewayError(f"Cryptomus {path}: HTTP {response.status_code}, not a JSON object")
        result = answer.get("result")
        if response.status_code >= 400 or answer.get("state") != 0 or not isinstance(result, dict):
            message = str(answer.get("message") or "")[:200]
            errors = answer.get("errors")
            fields = f" ({', '.join(sorted(map(str, errors)))})" if isinstance(errors, dict) and errors else ""
            raise GatewayError(f"Cryptomus {path}: HTTP {response.status_code} {message}{fields}".rstrip())
        return result

    def create_checkout(self, deposit, *, success_url: str, cancel_url: str, webhook_url: str) -> Checkout:
        order_id = f"{ORDER_PREFIX}{deposit.pk}"
        result = self._call("/v1/payment", {
            "amount": _amount_text(deposit.pay_amount), "currency": deposit.currency, "order_id": order_id,
            "url_callback": webhook_url, "url_return": cancel_url, "url_success": success_url,
        })
        uuid, url = result.get("uuid"), result.get("url")
        if not uuid or not url or result.get("order_id", order_id) != order_id:
            raise GatewayError("Cryptomus /v1/payment: the answer names no invoice for this deposit")
        return Checkout(reference=str(uuid), redirect_url=str(url))

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentState:
        try:
            data = json.loads(body)
        except ValueError:
            raise WebhookRefused("Not JSON") from None
        if not isinstance(data, dict):
            raise WebhookRefused("Not a JSON object")
        sign = data.pop("sign", None)
        if not isinstance(sign, str) or not sign:
            raise WebhookRefused("No signature")
        try:
            expected = signature(php_json(data), self.credential("payment_key"))
        except ValueError:  # NaN or Infinity: nothing Cryptomus signs
            raise WebhookRefused("Not a signable body") from None
        if not hmac.compare_digest(expected.encode(), sign.encode("utf-8", errors="replace")):
            raise WebhookRefused("Bad signature")
        return payment_state(data)

    def fetch_state(self, deposit) -> PaymentState:
        if not deposit.reference:
            raise GatewayError(f"Deposit {deposit.pk} has no Cryptomus invoice")
        result = self._call("/v1/payment/info", {"uuid": deposit.reference})
        if str(result.get("uuid") or "") != deposit.reference or deposit_id_from(result.get("order_id")) != deposit.pk:
            raise GatewayError("Cryptomus /v1/payment/info: the answer is about another invoice")
        try:
            return payment_state(result)
        except WebhookRefused as error:  # an unreadable amount
            raise GatewayError(f"Cryptomus /v1/payment/info: {error.reason}") from None
