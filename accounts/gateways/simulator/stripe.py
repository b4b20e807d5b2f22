"""Stripe's Checkout Sessions API as the simulator serves it, and Stripe's signed webhook events.

The API: `POST /v1/checkout/sessions` (form-encoded, Stripe's bracket syntax), `GET /v1/checkout/sessions/<id>`
and `POST /v1/checkout/sessions/<id>/expire`, each with `Authorization: Bearer <secret key>`; errors in
Stripe's `{"error": {...}}` shape. Events are signed as Stripe signs them:
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>`.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from accounts.gateways.simulator import Delivery, SimRequest, SimResponse

if TYPE_CHECKING:
    from accounts.gateways.simulator import GatewaySimulator

API_VERSION = "2026-10-28.endive"
SESSION_LIFETIME = 24 * 3600
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price_data][currency]=usd`) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head):])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _lists(item) for key, item in value.items()}
    if items and all(key.isdecimal() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _error(message: str, *, status: int = 400, param: str | None = None, code: str | None = None) -> SimResponse:
    error = {"message": message, "type": "invalid_request_error"}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return SimResponse.json({"error": error}, status=status)


def _redact(key: str) -> str:
    return f"{key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}" if len(key) > 12 else "***"


class StripeSim:
    def __init__(self, sim: GatewaySimulator) -> None:
        self.sim = sim
        self.secret_key = ""
        self.webhook_secret = ""
        self.sessions: dict[str, dict[str, Any]] = {}
        self.created_params: dict[str, dict[str, Any]] = {}  # what the panel sent, by session id

    def configure(self, credentials: dict) -> None:
        with self.sim.lock:
            self.secret_key = credentials.get("secret_key", "")
            self.webhook_secret = credentials.get("webhook_secret", "")

    # --- HTTP -------------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse | None:
        path = request.path
        if path.startswith("/pay/"):
            return self._pay_page(request, path.removeprefix("/pay/"))
        if not path.startswith("/v1/"):
            return None
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        if path == "/v1/checkout/sessions" and request.method == "POST":
            return self._create(_nested(parse_qsl(request.body.decode("utf-8", errors="replace"),
                                                  keep_blank_values=True)))
        match = re.fullmatch(r"/v1/checkout/sessions/([A-Za-z0-9_]+)(/expire)?", path)
        if match is None:
            return _error(f"Unrecognized request URL ({request.method}: /v1{path[3:]}).", status=404)
        session_id, expire = match.groups()
        if expire and request.method == "POST":
            return self._expire_api(session_id)
        if not expire and request.method == "GET":
            with self.sim.lock:
                session = copy.deepcopy(self.sessions.get(session_id))
            return SimResponse.json(session) if session else self._missing(session_id)
        return _error(f"Unrecognized request URL ({request.method}: /v1{path[3:]}).", status=404)

    def _authenticate(self, request: SimRequest) -> SimResponse | None:
        header = next((value for key, value in request.headers.items() if key.lower() == "authorization"), "")
        if not header.startswith("Bearer ") or not header[7:]:
            return _error("You did not provide an API key. You need to provide your API key in the Authorization "
                          "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').", status=401)
        key = header[7:]
        with self.sim.lock:
            expected = self.secret_key
        if not expected or not hmac.compare_digest(key.encode(), expected.encode()):
            return _error(f"Invalid API Key provided: {_redact(key)}", status=401)
        return None

    def _missing(self, session_id: str) -> SimResponse:
        return _error(f"No such checkout.session: '{session_id}'", status=404, param="session",
                      code="resource_missing")

    def _create(self, params: dict[str, Any]) -> SimResponse:
        if params.get("mode") != "payment":
            return _error("This simulator supports `mode=payment` only.", param="mode")
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                return _error(f"Missing required param: {name}.", param=name)
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            return _error("Missing required param: line_items.", param="line_items")
        total, currency = 0, None
        for index, item in enumerate(items):
            prefix = f"line_items[{index}]"
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                return _error("You must specify either `price` or `price_data`.", param=f"{prefix}[price_data]")
            unit, quantity = str(price.get("unit_amount", "")), str(item.get("quantity", ""))
            if not unit.isdecimal():
                return _error("Invalid integer: " + unit, param=f"{prefix}[price_data][unit_amount]")
            if not quantity.isdecimal() or int(quantity) < 1:
                return _error("Invalid integer: " + quantity, param=f"{prefix}[quantity]")
            item_currency = str(price.get("currency", ""))
            if not re.fullmatch(r"[a-z]{3}", item_currency) or currency not in (None, item_currency):
                return _error(f"Invalid currency: {item_currency}.", param=f"{prefix}[price_data][currency]")
            product = price.get("product_data")
            if not isinstance(product, dict) or not product.get("name"):
                return _error("Missing required param: product_data[name].",
                              param=f"{prefix}[price_data][product_data][name]")
            total, currency = total + int(unit) * int(quantity), item_currency
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict):
            return _error("Invalid object", param="metadata")
        now = int(time.time())
        session_id = f"cs_test_{secrets.token_hex(24)}"
        session = {
            "id": session_id, "object": "checkout.session", "amount_subtotal": total, "amount_total": total,
            "cancel_url": params["cancel_url"], "client_reference_id": params.get("client_reference_id") or None,
            "client_secret": None, "created": now, "currency": currency, "customer": None,
            "customer_email": params.get("customer_email") or None, "expires_at": now + SESSION_LIFETIME,
            "livemode": False, "metadata": metadata, "mode": "payment", "payment_intent": None,
            "payment_method_types": ["card"], "payment_status": "unpaid", "status": "open",
            "success_url": params["success_url"], "ui_mode": "hosted", "url": f"{self.sim.url}/stripe/pay/{session_id}",
        }
        with self.sim.lock:
            self.sessions[session_id] = session
            self.created_params[session_id] = params
        return SimResponse.json(session)

    def _expire_api(self, session_id: str) -> SimResponse:
        with self.sim.lock:
            session = self.sessions.get(session_id)
            if session is None:
                return self._missing(session_id)
            if session["status"] != "open":
                return _error(f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout "
                              f"Session has a status of \"{session['status']}\".", code="checkout_session_not_open")
        self.expire(session_id)
        with self.sim.lock:
            return SimResponse.json(copy.deepcopy(self.sessions[session_id]))

    def _pay_page(self, request: SimRequest, session_id: str) -> SimResponse:
        with self.sim.lock:
            session = copy.deepcopy(self.sessions.get(session_id))
        if session is None:
            return SimResponse.page("Not found", "<h1>Checkout not found</h1>", status=404)
        if session["status"] != "open":
            return SimResponse.page("Unavailable", "<h1>This checkout is no longer available</h1>", status=410)
        if request.method == "POST":
            if request.form().get("choice") == "pay":
                try:
                    self.pay(session_id)
                except ValueError:  # paid or expired meanwhile
                    return SimResponse.page("Unavailable", "<h1>This checkout is no longer available</h1>", 410)
                return SimResponse.redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
            return SimResponse.redirect(session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
        amount = Decimal(session["amount_total"]).scaleb(-2)
        body = (f"<h1>Pay {html.escape(str(amount))} {html.escape(session['currency'].upper())}</h1>"
                f"<p>Stripe test checkout {html.escape(session_id)}</p><form method='post'>"
                "<button name='choice' value='pay'>Pay</button>"
                "<button name='choice' value='cancel'>Cancel</button></form>")
        return SimResponse.page("Stripe checkout", body)

    # --- helpers for tests ------------------------------------------------------------------------

    def session(self, session_id: str) -> dict[str, Any]:
        with self.sim.lock:
            return copy.deepcopy(self.sessions[session_id])

    def _update(self, session_id: str, *, expect_open: bool = True, **fields: Any) -> None:
        with self.sim.lock:
            session = self.sessions[session_id]
            if expect_open and session["status"] != "open":
                raise ValueError(f"Checkout session {session_id} is {session['status']}, not open")
            session.update(fields)

    def pay(self, reference: str, *, amount: Decimal | str | None = None, currency: str | None = None,
            delayed: bool = False) -> Delivery:
        """The buyer pays: the session completes and `checkout.session.completed` is sent. `amount` (major
        units) and `currency` say what was really collected; `delayed` (a bank debit) completes it unpaid,
        to be settled later by `settle`."""
        fields: dict[str, Any] = {"status": "complete", "url": None,
                                  "payment_status": "unpaid" if delayed else "paid",
                                  "payment_intent": f"pi_{secrets.token_hex(12)}"}
        if amount is not None:
            fields["amount_total"] = fields["amount_subtotal"] = int(Decimal(str(amount)).scaleb(2))
        if currency is not None:
            fields["currency"] = currency.lower()
        self._update(reference, **fields)
        return self.send("checkout.session.completed", reference)

    def settle(self, reference: str, *, succeeded: bool = True) -> Delivery:
        """A delayed payment clears (or fails): `checkout.session.async_payment_succeeded` (or `_failed`)."""
        with self.sim.lock:
            if self.sessions[reference]["payment_status"] != "unpaid":
                raise ValueError(f"Checkout session {reference} is not awaiting a delayed payment")
        if succeeded:
            self._update(reference, expect_open=False, payment_status="paid")
            return self.send("checkout.session.async_payment_succeeded", reference)
        return self.send("checkout.session.async_payment_failed", reference)

    def expire(self, session_id: str) -> Delivery:
        """The session expires unpaid: `checkout.session.expired` is sent."""
        self._update(session_id, status="expired", url=None)
        return self.send("checkout.session.expired", session_id)

    def event(self, session_id: str, type: str, **overrides: Any) -> bytes:
        """An event's JSON body about the session as it is now (any id: an unknown one gets a bare session);
        `overrides` replace fields of the session in `data.object`."""
        with self.sim.lock:
            session = copy.deepcopy(self.sessions.get(session_id))
        if session is None:
            session = {"id": session_id, "object": "checkout.session", "amount_total": 1000, "currency": "usd",
                       "client_reference_id": None, "metadata": {}, "mode": "payment", "livemode": False,
                       "payment_status": "paid", "status": "complete", "url": None}
        session.update(overrides)
        event = {
            "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": API_VERSION,
            "created": int(time.time()), "data": {"object": session}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": type,
        }
        return json.dumps(event, indent=2).encode()

    def sign(self, body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
        """The `Stripe-Signature` header for `body`: with the configured secret and now, unless told otherwise."""
        if secret is None:
            with self.sim.lock:
                secret = self.webhook_secret
        stamp = int(time.time()) if timestamp is None else int(timestamp)
        digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    def send(self, type: str, session_id: str, *, secret: str | None = None,
             timestamp: int | None = None, body: bytes | None = None, **overrides: Any) -> Delivery:
        """Deliver one signed event to the panel (`body` as given, or built by `event`)."""
        payload = self.event(session_id, type, **overrides) if body is None else body
        headers = {"Stripe-Signature": self.sign(payload, secret=secret, timestamp=timestamp)}
        return self.sim.deliver("stripe", payload, headers)
