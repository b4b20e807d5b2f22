"""Cryptomus at the simulator: invoices (`POST /v1/payment`, `POST /v1/payment/info`) checked by the
`merchant` and `sign` headers, a pay page at `/pay/<uuid>`, and webhooks signed as Cryptomus signs them
(md5 of base64 of the body without `sign`, JSON-encoded the PHP way, followed by the payment key)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import time
import uuid as uuids
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from accounts.gateways.simulator import Delivery, SimRequest, SimResponse

COMMISSION = Decimal("0.02")
EIGHT_PLACES = Decimal("0.00000001")
USD_LIKE = ("USD", "USDT", "USDC")


def _php_encode(value: object) -> str:
    """json_encode($value, JSON_UNESCAPED_UNICODE), written out by hand for the types a webhook holds."""
    if isinstance(value, dict):
        if not value:
            return "[]"
        return "{" + ",".join(f"{_php_encode(str(k))}:{_php_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_php_encode(v) for v in value) + "]"
    if isinstance(value, str):
        out = []
        for char in value:
            if char in '"\\/':
                out.append("\\" + char)
            elif char in "\b\f\n\r\t":
                out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
            elif ord(char) < 0x20 or char in "\u2028\u2029":
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    return json.dumps(value)  # true, false, null, numbers


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _amount(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _error(message: str, status: int, **extra) -> SimResponse:
    return SimResponse.json({"state": 1, "message": message, **extra}, status=status)


class CryptomusSim:
    def __init__(self, sim) -> None:
        self.sim = sim
        self.merchant = ""
        self.payment_key = ""
        self.invoices: dict[str, dict] = {}

    def configure(self, credentials: dict) -> None:
        with self.sim.lock:
            self.merchant = credentials.get("merchant", "")
            self.payment_key = credentials.get("payment_key", "")

    # --- signing --------------------------------------------------------------------------------

    def sign(self, data: dict, *, key: str | None = None) -> str:
        """The `sign` of a webhook body (without its `sign`), with the payment key or `key`."""
        unsigned = {k: v for k, v in data.items() if k != "sign"}
        return self._md5(_php_encode(unsigned).encode(), self.payment_key if key is None else key)

    @staticmethod
    def _md5(body: bytes, key: str) -> str:
        return hashlib.md5(base64.b64encode(body) + key.encode()).hexdigest()

    # --- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse | None:
        if request.path.startswith("/pay/"):
            return self._pay_page(request, request.path.removeprefix("/pay/"))
        if request.method != "POST" or request.path not in ("/v1/payment", "/v1/payment/info"):
            return None
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.sim.lock:
            merchant, key = self.merchant, self.payment_key
        if not merchant or headers.get("merchant") != merchant:
            return _error("Merchant not found", 401)
        if headers.get("sign") != self._md5(request.body, key):
            return _error("Invalid Sign.", 401)
        data = request.json()
        if request.path == "/v1/payment":
            return self._create(data)
        with self.sim.lock:
            invoice = self.invoices.get(str(data.get("uuid") or "")) or next(
                (i for i in self.invoices.values() if data.get("order_id") and i["order_id"] == data["order_id"]), None)
            return SimResponse.json({"state": 0, "result": self._public(invoice)}) if invoice else _error(
                "Payment not found", 404)

    def _create(self, data: dict) -> SimResponse:
        amount, currency, order_id = _amount(data.get("amount")), data.get("currency"), data.get("order_id")
        errors = {name: [f"The {name} field is invalid."] for name, ok in (
            ("amount", isinstance(data.get("amount"), str) and amount is not None),
            ("currency", isinstance(currency, str) and bool(currency)),
            ("order_id", isinstance(order_id, str) and 1 <= len(order_id) <= 128)) if not ok}
        if errors:
            return _error("Validation error", 422, errors=errors)
        with self.sim.lock:
            invoice = next((i for i in self.invoices.values() if i["order_id"] == order_id), None)
            if invoice is None:  # Cryptomus answers a repeated order_id with its invoice
                invoice_id = str(uuids.uuid4())
                invoice = self.invoices[invoice_id] = {
                    "uuid": invoice_id, "order_id": order_id, "amount": data["amount"], "currency": currency,
                    "url_callback": data.get("url_callback") or "", "url_return": data.get("url_return") or "",
                    "url_success": data.get("url_success") or "", "status": "check", "is_final": False,
                    "payment_amount": None, "payment_amount_usd": None, "merchant_amount": None,
                    "commission": None, "payer_currency": None, "network": None, "txid": None,
                    "additional_data": data.get("additional_data"), "expired_at": int(time.time()) + 3600,
                    "created_at": _now(), "updated_at": _now()}
            return SimResponse.json({"state": 0, "result": self._public(invoice)})

    def _public(self, invoice: dict) -> dict:
        fields = ("uuid", "order_id", "amount", "payment_amount", "payer_amount", "payer_currency", "currency",
                  "merchant_amount", "network", "txid", "is_final", "additional_data", "expired_at",
                  "created_at", "updated_at")
        result = {name: invoice.get(name) for name in fields}
        result.update(payer_amount=invoice["payment_amount"], payment_status=invoice["status"],
                      status=invoice["status"], url=f"{self.sim.api_base('cryptomus')}/pay/{invoice['uuid']}")
        return result

    def _pay_page(self, request: SimRequest, invoice_id: str) -> SimResponse:
        with self.sim.lock:
            invoice = dict(self.invoices.get(invoice_id) or {})
        if not invoice:
            return SimResponse.page("Cryptomus", "<h1>Invoice not found</h1>", status=404)
        if request.method == "POST":
            choice = request.form().get("choice")
            if choice == "pay":
                if not invoice["is_final"]:
                    self.pay(invoice_id)
                return SimResponse.redirect(invoice["url_success"] or invoice["url_return"])
            if choice == "cancel":
                if not invoice["is_final"]:
                    self.pay(invoice_id, status="cancel")
                return SimResponse.redirect(invoice["url_return"])
            return SimResponse.page("Cryptomus", "<h1>Choose Pay or Cancel</h1>", status=400)
        amount = html.escape(f"{invoice['amount']} {invoice['currency']}")
        if invoice["is_final"]:
            return SimResponse.page("Cryptomus", f"<h1>Invoice {html.escape(invoice['status'])}</h1><p>{amount}</p>")
        return SimResponse.page("Cryptomus invoice", (
            f"<h1>Cryptomus</h1><p>Order {html.escape(invoice['order_id'])}</p><p class='amount'>{amount}</p>"
            "<form method='post'><button name='choice' value='pay'>Pay</button>"
            "<button name='choice' value='cancel'>Cancel</button></form>"))

    # --- test helpers ---------------------------------------------------------------------------

    def invoice(self, invoice_id: str) -> dict:
        with self.sim.lock:
            return dict(self.invoices[invoice_id])

    def last_invoice(self) -> dict:
        with self.sim.lock:
            return dict(list(self.invoices.values())[-1])

    def _payment(self, invoice: dict, *, status: str, amount: object, currency: str | None) -> dict:
        """The payment fields of an invoice paid with `amount` (default: the invoice's) in `currency`."""
        payer_currency = (currency or invoice["currency"]).upper()
        if status in ("cancel", "fail", "system_fail") and amount is None:
            return {"status": status, "payment_amount": None, "payment_amount_usd": None, "merchant_amount": None,
                    "commission": None, "payer_currency": None, "txid": None}
        paid = Decimal(str(invoice["amount"] if amount is None else amount))
        commission = (paid * COMMISSION).quantize(EIGHT_PLACES)
        return {"status": status, "payer_currency": payer_currency, "network": "tron",
                "payment_amount": f"{paid.quantize(EIGHT_PLACES):f}",
                "payment_amount_usd": f"{paid:.2f}" if payer_currency in USD_LIKE else None,
                "commission": f"{commission:f}", "merchant_amount": f"{paid.quantize(EIGHT_PLACES) - commission:f}",
                "txid": hashlib.sha256(f"{invoice['uuid']}{status}{paid}".encode()).hexdigest()}

    def event(self, invoice_id: str, *, status: str = "paid", amount: object = None, currency: str | None = None,
              is_final: bool = True, key: str | None = None, **fields) -> bytes:
        """The webhook body Cryptomus sends for the invoice paid with `amount` in `currency` (the invoice's by
        default) and in `status`, signed with the payment key or `key`; `fields` override any field last.
        The invoice itself does not change."""
        invoice = self.invoice(invoice_id)
        payment = self._payment(invoice, status=status, amount=amount, currency=currency)
        body = {"type": "payment", "uuid": invoice["uuid"], "order_id": invoice["order_id"],
                "amount": invoice["amount"], "payment_amount": payment["payment_amount"],
                "payment_amount_usd": payment["payment_amount_usd"], "merchant_amount": payment["merchant_amount"],
                "commission": payment["commission"], "is_final": is_final, "status": status,
                "from": "TXhfYSWt2oKRrHAJVJeYRuit6ZzKuoEKXj" if payment["payment_amount"] else None,
                "wallet_address_uuid": None, "network": payment.get("network"),
                "currency": (currency or invoice["currency"]).upper(), "payer_currency": payment["payer_currency"],
                "additional_data": invoice["additional_data"], "txid": payment["txid"]}
        body.update(fields)
        body["sign"] = self.sign(body, key=key)
        return _php_encode(body).encode()

    def send(self, body: bytes | dict, *, url: str | None = None) -> Delivery:
        """POST a webhook body (bytes as they are; a dict is signed first) to the panel."""
        if isinstance(body, dict):
            body = _php_encode({**body, "sign": self.sign(body)}).encode()
        return self.sim.deliver("cryptomus", body, {}, url=url)

    def pay(self, invoice_id: str, *, amount: object = None, currency: str | None = None,
            status: str = "paid") -> Delivery:
        """Finish the invoice as `status` (paid, paid_over, wrong_amount, cancel, fail...) with `amount` paid in
        `currency`, and send its webhook to its url_callback. Returns the delivery."""
        with self.sim.lock:
            invoice = self.invoices[invoice_id]
            invoice.update(self._payment(invoice, status=status, amount=amount, currency=currency),
                           is_final=True, updated_at=_now())
            if currency:
                invoice["currency"] = currency.upper()
            url = invoice["url_callback"] or None
        body = self.event(invoice_id, status=status, amount=amount, currency=currency)
        return self.send(body, url=url)
