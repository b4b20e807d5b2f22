"""PayPal in the simulator: OAuth tokens, Orders v2 (create, get, capture), the approve page, and
webhooks signed over PayPal's documented message and checked by verify-webhook-signature.

The signature is an HMAC-SHA256 (not PayPal's RSA) over `<transmissionId>|<timeStamp>|<webhookId>|<crc32>`
with a key only the simulator knows, so only the simulator's verify call can tell a good one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import string
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

from accounts.gateways.simulator import Delivery, SimRequest, SimResponse

_ID_ALPHABET = string.ascii_uppercase + string.digits
DOCS = "https://developer.paypal.com/api/rest/reference/orders/v2/errors/"
AUTH_ALGO = "SHA256withRSA"
CAPTURE_ISSUES = {
    "ORDER_ALREADY_CAPTURED": "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
    "ORDER_NOT_APPROVED": "Payer has not yet approved the Order for payment.",
}


def _id(length: int = 17) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, name: str, message: str, issue: str = "", description: str = "") -> SimResponse:
    body = {"name": name, "message": message, "debug_id": _id(13).lower(),
            "links": [{"href": DOCS + (f"#{issue}" if issue else ""), "rel": "information_link", "method": "GET"}]}
    if issue:
        body["details"] = [{"issue": issue, "description": description or message}]
    return SimResponse.json(body, status=status)


def _unprocessable(issue: str, description: str) -> SimResponse:
    return _error(422, "UNPROCESSABLE_ENTITY", "The requested action could not be performed, semantically incorrect, "
                  "or failed business validation.", issue, description)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class PayPalSim:
    def __init__(self, sim) -> None:
        self.sim = sim
        self.client_id = self.client_secret = self.webhook_id = ""
        self._key = secrets.token_bytes(32)  # signs webhooks; never leaves the simulator
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.orders: dict[str, dict] = {}
        self.urls: dict[str, tuple[str, str]] = {}  # order id -> (return_url, cancel_url)
        self.created: dict[str, str] = {}  # PayPal-Request-Id -> order id
        self.captures: dict[str, tuple[int, dict]] = {}  # PayPal-Request-Id -> the first answer
        self.signed: dict[str, dict] = {}  # transmission id -> what was signed
        self.capture_calls = 0
        self.decline: set[str] = set()  # orders whose capture PayPal declines
        self.verify_down = False  # the verify-webhook-signature call answers 500
        self.before_capture = None  # called once, with the order id, as the next capture comes in

    @property
    def api(self) -> str:
        return self.sim.api_base("paypal")

    def configure(self, credentials: dict) -> None:
        with self.sim.lock:
            self.client_id = credentials.get("client_id", "")
            self.client_secret = credentials.get("client_secret", "")
            self.webhook_id = credentials.get("webhook_id", "")

    # --- HTTP ---------------------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse | None:
        parts = [part for part in request.path.split("/") if part]
        if parts[:1] == ["pay"] and len(parts) == 2:
            return self._pay_page(request, parts[1])
        if request.method == "POST" and parts == ["v1", "oauth2", "token"]:
            return self._token(request)
        if parts[:3] != ["v2", "checkout", "orders"] and parts[:2] != ["v1", "notifications"]:
            return None
        if not self._authorized(request):
            return SimResponse.json({"error": "invalid_token", "error_description": "Token signature verification "
                                     "failed"}, status=401)
        headers = {name.lower(): value for name, value in request.headers.items()}
        request_id = headers.get("paypal-request-id", "")
        if request.method == "POST" and parts == ["v1", "notifications", "verify-webhook-signature"]:
            return self._verify(request.json())
        if request.method == "POST" and len(parts) == 3:
            return self._create(request.json(), request_id)
        if request.method == "GET" and len(parts) == 4:
            with self.sim.lock:
                order = self.orders.get(parts[3])
                return SimResponse.json(self._view(order)) if order else self._not_found()
        if request.method == "POST" and len(parts) == 5 and parts[4] == "capture":
            status, body = self.capture(parts[3], request_id=request_id)
            return SimResponse.json(body, status=status)
        return None

    def _token(self, request: SimRequest) -> SimResponse:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id = secret = ""
        good = (scheme == "Basic" and self.client_id and hmac.compare_digest(client_id, self.client_id)
                and hmac.compare_digest(secret, self.client_secret))
        if not good:
            return SimResponse.json({"error": "invalid_client", "error_description": "Client Authentication failed"},
                                    status=401)
        if request.form().get("grant_type") != "client_credentials":
            return SimResponse.json({"error": "unsupported_grant_type",
                                     "error_description": "Grant Type is NULL"}, status=400)
        token = "A21AA" + secrets.token_urlsafe(32)
        with self.sim.lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        return SimResponse.json({"scope": "https://uri.paypal.com/services/payments/payment", "access_token": token,
                                 "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400,
                                 "nonce": f"{_now()}{_id(8)}"})

    def _authorized(self, request: SimRequest) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.sim.lock:
            return scheme == "Bearer" and token in self.tokens

    def _not_found(self) -> SimResponse:
        return _error(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID",
                      "Specified resource ID does not exist. Please check the resource ID and try again.")

    # --- Orders -------------------------------------------------------------------------------------------

    def _create(self, data: dict, request_id: str) -> SimResponse:
        units = data.get("purchase_units")
        unit = _dict(units[0]) if isinstance(units, list) and units else {}
        value, currency = _dict(unit.get("amount")).get("value"), str(_dict(unit.get("amount")).get("currency_code"))
        if data.get("intent") != "CAPTURE" or not isinstance(value, str) or len(currency) != 3:
            return _error(400, "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates "
                          "schema.", "INVALID_PARAMETER_SYNTAX")
        whole, _, cents = value.partition(".")
        if not (whole + cents).isdigit() or len(cents) > (0 if currency in ("HUF", "JPY", "TWD") else 2):
            return _unprocessable("DECIMAL_PRECISION", "The value of the field should not have more decimal places.")
        if Decimal(value) <= 0:
            return _unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        context = (_dict(_dict(_dict(data.get("payment_source")).get("paypal")).get("experience_context"))
                   or _dict(data.get("application_context")))
        with self.sim.lock:
            if request_id and request_id in self.created:  # the same request again: the same order
                return SimResponse.json(self._view(self.orders[self.created[request_id]]), status=200)
            order_id = _id()
            self.orders[order_id] = {
                "id": order_id, "intent": "CAPTURE", "create_time": _now(),
                "status": "CREATED" if "application_context" in data else "PAYER_ACTION_REQUIRED",
                "purchase_units": [{key: unit[key] for key in ("reference_id", "custom_id", "invoice_id", "description")
                                    if key in unit} | {"amount": {"currency_code": currency, "value": value},
                                                       "payee": {"merchant_id": "SIMMERCHANT01"}}],
            }
            self.urls[order_id] = (context.get("return_url", ""), context.get("cancel_url", ""))
            if request_id:
                self.created[request_id] = order_id
            return SimResponse.json(self._view(self.orders[order_id]), status=201)

    def _view(self, order: dict) -> dict:
        """The order as PayPal shows it, with its links."""
        link = "payer-action" if order["status"] == "PAYER_ACTION_REQUIRED" else "approve"
        links = [{"href": f"{self.api}/v2/checkout/orders/{order['id']}", "rel": "self", "method": "GET"},
                 {"href": f"{self.api}/pay/{order['id']}", "rel": link, "method": "GET"}]
        if order["status"] == "APPROVED":
            links.append({"href": f"{self.api}/v2/checkout/orders/{order['id']}/capture", "rel": "capture",
                          "method": "POST"})
        return json.loads(json.dumps({**order, "links": links}))

    def approve(self, order_id: str) -> str:
        """The buyer approves the order on PayPal; returns where PayPal sends them back."""
        with self.sim.lock:
            order = self.orders[order_id]
            if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
                order["status"] = "APPROVED"
                order["payer"] = {"payer_id": "SIMPAYER" + order_id[:5], "email_address": "buyer@example.com",
                                  "name": {"given_name": "Sim", "surname": "Buyer"}}
            payer_id = order.get("payer", {}).get("payer_id", "")
            return _with_query(self.urls[order_id][0], token=order_id, PayerID=payer_id)

    def capture(self, order_id: str, *, request_id: str = "", amount: object = None,
                currency: str | None = None) -> tuple[int, dict]:
        """Capture an approved order as the capture call does; answers (HTTP status, body) and sends the
        capture's webhook. A repeated PayPal-Request-Id gets the first answer again."""
        return self._capture(order_id, request_id=request_id, amount=amount, currency=currency)[:2]

    def _capture(self, order_id: str, *, request_id: str, amount: object, currency: str | None,
                 ) -> tuple[int, dict, Delivery | None]:
        with self.sim.lock:
            hook, self.before_capture = self.before_capture, None
        if hook is not None:
            hook(order_id)
        with self.sim.lock:
            self.capture_calls += 1
            if request_id and request_id in self.captures:
                return (*self.captures[request_id], None)
            order = self.orders.get(order_id)
            if order is None:
                return 404, json.loads(self._not_found().body), None
            if order["status"] != "APPROVED":
                issue = "ORDER_ALREADY_CAPTURED" if order["status"] == "COMPLETED" else "ORDER_NOT_APPROVED"
                return 422, json.loads(_unprocessable(issue, CAPTURE_ISSUES[issue]).body), None
            unit = order["purchase_units"][0]
            money = {"currency_code": currency or unit["amount"]["currency_code"],
                     "value": str(amount) if amount is not None else unit["amount"]["value"]}
            declined = order_id in self.decline
            capture = {"id": _id(), "status": "DECLINED" if declined else "COMPLETED", "amount": money,
                       "final_capture": True, "custom_id": unit.get("custom_id", ""),
                       "invoice_id": unit.get("invoice_id", ""), "create_time": _now(), "update_time": _now(),
                       "seller_protection": {"status": "ELIGIBLE"}}
            order["status"] = "COMPLETED"
            unit["payments"] = {"captures": [capture]}
            answer = (201, self._view(order))
            if request_id:
                self.captures[request_id] = answer
        # Outside the lock: the panel verifies this webhook by calling the simulator back.
        delivery = self.send_event("PAYMENT.CAPTURE.DENIED" if declined else "PAYMENT.CAPTURE.COMPLETED",
                                   self.capture_resource(order_id))
        return (*answer, delivery)

    def capture_resource(self, order_id: str) -> dict:
        """The order's capture as a webhook carries it (with the order id in supplementary_data)."""
        with self.sim.lock:
            capture = self.orders[order_id]["purchase_units"][0]["payments"]["captures"][0]
            return json.loads(json.dumps({**capture, "supplementary_data": {"related_ids": {"order_id": order_id}}}))

    def capture_event(self, order_id: str, *, amount: object = None, currency: str | None = None) -> Delivery:
        """Approve and capture the order (once; optionally another amount or currency) and send
        PAYMENT.CAPTURE.COMPLETED again as a new transmission; returns that delivery."""
        with self.sim.lock:
            status = self.orders[order_id]["status"]
        if status != "COMPLETED":
            self.approve(order_id)
            delivery = self._capture(order_id, request_id="", amount=amount, currency=currency)[2]
            if delivery is not None:
                return delivery
        return self.send_event("PAYMENT.CAPTURE.COMPLETED", self.capture_resource(order_id))

    pay = capture_event  # the buyer pays and the order is captured, without a browser

    def void(self, order_id: str) -> Delivery:
        with self.sim.lock:
            self.orders[order_id]["status"] = "VOIDED"
            resource = self._view(self.orders[order_id])
        return self.send_event("CHECKOUT.ORDER.VOIDED", resource, resource_type="checkout-order")

    # --- Webhooks -----------------------------------------------------------------------------------------

    def event(self, event_type: str, resource: dict, *, resource_type: str = "capture") -> dict:
        event_id = f"WH-{_id()}-{_id()}"
        return {"id": event_id, "event_version": "1.0", "create_time": _now(), "resource_type": resource_type,
                "resource_version": "2.0", "event_type": event_type, "summary": f"{event_type} (simulator)",
                "resource": resource,
                "links": [{"href": f"{self.api}/v1/notifications/webhooks-events/{event_id}", "rel": "self",
                           "method": "GET"}]}

    def sign(self, body: bytes, *, transmission_time: str | None = None, wrong_key: bool = False,
             webhook_id: str | None = None) -> dict[str, str]:
        """PayPal's signature headers for `body`; kept so that the verify call can check them."""
        transmission_id, sent = secrets.token_hex(16), transmission_time or _now()
        key = secrets.token_bytes(32) if wrong_key else self._key
        with self.sim.lock:
            self.signed[transmission_id] = {"body": body, "time": sent}
            hook = self.webhook_id if webhook_id is None else webhook_id
        return {"PAYPAL-TRANSMISSION-ID": transmission_id, "PAYPAL-TRANSMISSION-TIME": sent,
                "PAYPAL-TRANSMISSION-SIG": self._signature(key, transmission_id, sent, hook, body),
                "PAYPAL-CERT-URL": f"{self.api}/v1/notifications/certs/CERT-SIMULATOR", "PAYPAL-AUTH-ALGO": AUTH_ALGO}

    @staticmethod
    def _signature(key: bytes, transmission_id: str, sent: str, webhook_id: str, body: bytes) -> str:
        message = f"{transmission_id}|{sent}|{webhook_id}|{zlib.crc32(body)}".encode()
        return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()

    def send_event(self, event_type: str, resource: dict, *, resource_type: str = "capture",
                   transmission_time: str | None = None, wrong_key: bool = False) -> Delivery:
        """Build, sign and send one event (sent only if `sim.send_webhooks`; kept in `sim.deliveries`)."""
        body = json.dumps(self.event(event_type, resource, resource_type=resource_type)).encode()
        headers = self.sign(body, transmission_time=transmission_time, wrong_key=wrong_key)
        return self.sim.deliver("paypal", body, headers)

    def _verify(self, data: dict) -> SimResponse:
        if self.verify_down:
            return _error(500, "INTERNAL_SERVER_ERROR", "An internal server error occurred.")
        fields = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id")
        if not all(isinstance(data.get(name), str) and data[name] for name in fields) or \
                not isinstance(data.get("webhook_event"), dict):
            return _error(400, "VALIDATION_ERROR", "Invalid request - see details", "MISSING_REQUIRED_FIELD")
        with self.sim.lock:
            signed, webhook_id = self.signed.get(data["transmission_id"]), self.webhook_id
        good = (signed is not None and data["webhook_id"] == webhook_id and data["auth_algo"] == AUTH_ALGO
                and data["cert_url"].startswith(f"{self.api}/v1/notifications/certs/")
                and data["transmission_time"] == signed["time"]
                and json.loads(signed["body"]) == data["webhook_event"]
                and hmac.compare_digest(data["transmission_sig"], self._signature(
                    self._key, data["transmission_id"], signed["time"], webhook_id, signed["body"])))
        return SimResponse.json({"verification_status": "SUCCESS" if good else "FAILURE"})

    # --- The approve page ---------------------------------------------------------------------------------

    def _pay_page(self, request: SimRequest, order_id: str) -> SimResponse:
        with self.sim.lock:
            order = self.orders.get(order_id)
            amount = order and order["purchase_units"][0]["amount"]
        if order is None:
            return SimResponse.page("PayPal", "<h1>This order does not exist</h1>", status=404)
        if request.method == "POST":
            choice = request.form().get("choice")
            if choice == "pay":
                return SimResponse.redirect(self.approve(order_id))
            if choice == "cancel":
                return SimResponse.redirect(_with_query(self.urls[order_id][1], token=order_id))
            return SimResponse.page("PayPal", "<h1>Choose Pay or Cancel</h1>", status=400)
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            return SimResponse.page("PayPal", f"<h1>This order is {html.escape(order['status'].lower())}</h1>")
        shown = html.escape(f"{amount['value']} {amount['currency_code']}")
        return SimResponse.page("PayPal", f"<h1>Pay with PayPal</h1><p>Amount: <strong>{shown}</strong></p>"
                                f"<form method='post'><button name='choice' value='pay'>Pay</button>"
                                f"<button name='choice' value='cancel'>Cancel</button></form>")
