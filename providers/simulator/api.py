"""The simulated panel's API v2: one function per action, answering with plain JSON-ready values."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from providers import ordertypes as ot
from providers.simulator.catalogue import Catalogue, SimService
from providers.simulator.config import SPELLING_VARIANTS, SimConfig
from providers.simulator.state import Account, Order, PanelState, Request, price

MAX_IDS = 100
_URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$", re.IGNORECASE)
_HANDLE = re.compile(r"^@?[A-Za-z0-9_.]{2,64}$")


class ApiError(Exception):
    """A definite error answer: {"error": message}."""


class Api:
    def __init__(self, *, state: PanelState, catalogue: Catalogue, config: SimConfig) -> None:
        self.state = state
        self.catalogue = catalogue
        self.config = config

    # Entry -----------------------------------------------------------------------------------------------

    def handle(self, params: dict[str, str]) -> object:
        try:
            return self._dispatch(params)
        except ApiError as exc:
            return self._error(str(exc))

    def _error(self, message: str) -> dict:
        return {"errors": [message]} if self.config.errors_as_list else {"error": message}

    def _item_error(self, message: str) -> object:
        return message if self.config.item_errors_as_strings else {"error": message}

    def _dispatch(self, params: dict[str, str]) -> object:
        account = self.state.accounts.get(params.get("key") or "")
        if account is None:
            raise ApiError("Invalid API key")
        action = (params.get("action") or "").strip()
        handler = {
            "services": self.services, "add": self.add, "status": self.status, "refill": self.refill,
            "refill_status": self.refill_status, "cancel": self.cancel, "balance": self.balance,
        }.get(action)
        if handler is None:
            raise ApiError("Incorrect request")
        return handler(account, params)

    # Rendering helpers -----------------------------------------------------------------------------------

    def _num(self, value: int | Decimal) -> object:
        if self.config.numbers_as_numbers:
            return float(value) if isinstance(value, Decimal) else value
        return str(value)

    def _id(self, value: str) -> object:
        """Ids in lists and `add` answers: integers where they are numeric, as the documents show."""
        if value.isdigit():
            return int(value)
        return value

    def _word(self, word: str, seed_id: str) -> str:
        word = self.config.status_words.get(word, word)
        if self.config.spelling_variants and word in SPELLING_VARIANTS:
            variants = (word, *SPELLING_VARIANTS[word])
            return variants[sum(map(ord, seed_id)) % len(variants)]
        return word

    def _ok(self, answer: dict) -> dict:
        if self.config.success_key and "status" not in answer:
            answer["status"] = "success"
        return answer

    def _ids(self, params: dict[str, str], name: str) -> list[str]:
        ids = [part.strip() for part in params.get(name, "").split(",") if part.strip()]
        if not ids:
            raise ApiError("Incorrect request")
        if len(ids) > MAX_IDS:
            raise ApiError(f"Maximum {MAX_IDS} IDs per request")
        return ids

    # services / balance ----------------------------------------------------------------------------------

    def services(self, account: Account, params: dict[str, str]) -> object:
        services = self.catalogue.all()
        if not services and self.config.empty_catalogue_as_object:
            return {}
        return [self._service(s) for s in services]

    def _service(self, s: SimService) -> dict:
        answer = {
            "service": s.service_id,
            "name": s.name, "type": s.type, "category": s.category, "rate": self._num(s.rate),
            "min": self._num(s.min), "max": self._num(s.max), "refill": s.refill, "cancel": s.cancel,
        }
        if not self.config.missing_fields:
            answer["dripfeed"] = s.dripfeed
        return answer

    def balance(self, account: Account, params: dict[str, str]) -> object:
        self.state.settle_all(account.key)
        answer = {"balance": self._num(account.balance.quantize(Decimal("0.00001")))}
        if not self.config.missing_fields:
            answer["currency"] = account.currency
        return self._ok(answer)

    # add -------------------------------------------------------------------------------------------------

    def add(self, account: Account, params: dict[str, str]) -> object:
        service = self.catalogue.get(params.get("service", ""))
        if service is None:
            raise ApiError("Incorrect service ID")
        order_type = ot.ORDER_TYPES[service.type]
        for name in order_type.required:
            if not str(params.get(name, "")).strip():
                raise ApiError(f"Missing required field: {name}")
        fields = {name: str(params[name]) for name in order_type.all_fields if str(params.get(name, "")).strip()}
        if service.type == ot.SUBSCRIPTIONS:
            return self._add_subscription(account, service, fields, request_id=params.get("request_id", ""))
        link = fields["link"].strip()
        if len(link) > 2000 or not (_URL.match(link) or _HANDLE.match(link)):
            raise ApiError("Incorrect link")
        if "media" in fields and not _URL.match(fields["media"].strip()):
            raise ApiError("Incorrect media URL")
        if "answer_number" in fields and not fields["answer_number"].strip().isdigit():
            raise ApiError("Incorrect answer number")
        for name in ot.LIST_FIELDS:
            if name in order_type.required and not ot.split_lines(fields[name]):
                raise ApiError(f"Missing required field: {name}")
        runs = interval = None
        if order_type.per_package:
            quantity, charge = 1, service.rate.quantize(Decimal("0.00001"))
        else:
            if order_type.has_quantity:
                quantity = _int(fields["quantity"], "quantity")
            else:
                quantity = len(ot.split_lines(fields[order_type.quantity_from]))
            if quantity < service.min:
                raise ApiError(f"Quantity less than minimal {service.min}")
            if quantity > service.max:
                raise ApiError(f"Quantity more than maximum {service.max}")
            if "runs" in fields or "interval" in fields:
                if not service.dripfeed:
                    raise ApiError("Drip-feed is not available for this service")
                runs = _int(fields.get("runs", ""), "runs")
                interval = _int(fields.get("interval", ""), "interval")
                if runs < 2 or interval < 1:
                    raise ApiError("Incorrect runs or interval")
                quantity *= runs
            charge = price(service.rate, quantity)
        return self._place(account, service, fields, quantity, charge, runs=runs, interval=interval,
                           request_id=params.get("request_id", ""))

    def _add_subscription(self, account: Account, service: SimService, fields: dict[str, str], *,
                          request_id: str = "") -> object:
        if not _HANDLE.match(fields["username"].strip()) and not _URL.match(fields["username"].strip()):
            raise ApiError("Incorrect username")
        low, high = _int(fields["min"], "min"), _int(fields["max"], "max")
        if low < service.min:
            raise ApiError(f"Quantity less than minimal {service.min}")
        if high > service.max:
            raise ApiError(f"Quantity more than maximum {service.max}")
        if low > high:
            raise ApiError("Min must not exceed max")
        delay = _int(fields["delay"], "delay")
        if delay not in ot.SUBSCRIPTION_DELAYS:
            raise ApiError("Incorrect delay")
        posts = _int(fields["posts"], "posts") if "posts" in fields else None
        if posts is not None and posts < 1:
            raise ApiError("Incorrect posts")
        old_posts = _int(fields["old_posts"], "old_posts") if "old_posts" in fields else 0
        expiry_at = None
        if "expiry" in fields:
            try:
                expiry = datetime.strptime(fields["expiry"].strip(), "%d/%m/%Y")
            except ValueError:
                raise ApiError("Incorrect expiry date") from None
            clock = self.state.clock
            expiry_at = (expiry - clock.date_at(0)).total_seconds() + 86_400  # the end of that day
            if expiry_at <= clock.now():
                raise ApiError("Incorrect expiry date")
        # Posts are charged as they come; the first one must be affordable.
        if account.balance < price(service.rate, high):
            raise ApiError("Not enough funds on balance")
        sub = {"min": low, "max": high, "delay": delay, "posts": posts, "old_posts": old_posts,
               "expiry_at": expiry_at}
        return self._place(account, service, fields, 0, Decimal(0), sub=sub, request_id=request_id)

    def _place(self, account: Account, service: SimService, fields: dict[str, str], quantity: int,
               charge: Decimal, *, request_id: str = "", **extra) -> dict:
        request_id = request_id.strip()
        honoured = bool(request_id) and self.config.honour_request_id
        with self.state.lock:
            if honoured:
                earlier = self.state.order_for_request(account.key, request_id)
                if earlier is not None:
                    if (earlier.service.service_id, earlier.fields) != (service.service_id, fields):
                        raise ApiError("request_id already used with different parameters")
                    return self._ok({"order": self._id(earlier.order_id)})
            if account.balance < charge:
                raise ApiError("Not enough funds on balance")
            order = self.state.create_order(account=account, service=service, fields=fields, quantity=quantity,
                                            charge=charge, request_id=request_id, remember=honoured, **extra)
        return self._ok({"order": self._id(order.order_id)})

    # status ----------------------------------------------------------------------------------------------

    def status(self, account: Account, params: dict[str, str]) -> object:
        if "orders" in params:
            answer: dict[str, object] = {}
            for order_id in self._ids(params, "orders"):
                order = self.state.find_order(account.key, order_id)
                answer[order_id] = self._order_status(order) if order else self._item_error("Incorrect order ID")
            return self._ok(answer) if self.config.success_key else answer
        order = self.state.find_order(account.key, params.get("order", ""))
        if order is None:
            raise ApiError("Incorrect order ID")
        return self._order_status(order)

    def _order_status(self, order: Order) -> dict:
        view = self.state.view(order)
        answer: dict[str, object] = {
            # What the order costs the buyer now: once a Partial or Canceled order is refunded, its charge
            # less the refund, as this panel's own /api/v2 answers (the buyer's cost is the answer's charge).
            "charge": self._num(order.charge - order.refunded), "start_count": self._num(order.start_count),
            "status": self._word(view.status, order.order_id),
        }
        if order.sub is not None:
            answer["posts"] = self._num(view.posts_done)
            answer.pop("start_count")
        else:
            style = self.config.remains_style
            if style == "unknown":
                answer["remains"] = "Unknown"
            elif style == "negative" and view.status == "Completed":
                answer["remains"] = self._num(-(1 + order.start_count % 50))
            elif style != "missing":
                answer["remains"] = self._num(view.remains)
            if view.runs_done is not None:
                answer["runs"] = self._num(view.runs_done)
            children = self.state.children(order, view) if self.config.dripfeed_child_orders else None
            if children is not None:
                answer["orders"] = [self._id(child) for child in children]
        if not self.config.missing_fields:
            answer["currency"] = self.state.accounts[order.key].currency
        return answer

    # refill ----------------------------------------------------------------------------------------------

    def refill(self, account: Account, params: dict[str, str]) -> object:
        if "orders" in params:
            items = []
            for order_id in self._ids(params, "orders"):
                outcome = self._refill_one(account, order_id)
                value = self._id(outcome.request_id) if isinstance(outcome, Request) else self._item_error(outcome)
                items.append({"order": self._id(order_id), "refill": value})
            return items
        outcome = self._refill_one(account, params.get("order", ""))
        if isinstance(outcome, str):
            raise ApiError(outcome)
        return self._ok({"refill": self._num(outcome.request_id) if outcome.request_id.isdigit()
                         else outcome.request_id})

    def _refill_one(self, account: Account, order_id: str) -> Request | str:
        order = self.state.find_order(account.key, order_id)
        return self.state.create_refill(order) if order else "Incorrect order ID"

    def refill_status(self, account: Account, params: dict[str, str]) -> object:
        key = "type" if self.config.refill_status_type_key else "status"
        if "refills" in params:
            items = []
            for refill_id in self._ids(params, "refills"):
                refill = self.state.refills.get(refill_id)
                if refill is None or refill.key != account.key:
                    items.append({"refill": self._id(refill_id), "status": self._item_error("Refill not found")})
                else:
                    items.append({"refill": self._id(refill_id),
                                  key: self._word(self.state.request_status(refill), refill_id)})
            return items
        refill_id = params.get("refill", "").strip()
        refill = self.state.refills.get(refill_id)
        if refill is None or refill.key != account.key:
            raise ApiError("Refill not found")
        return {key: self._word(self.state.request_status(refill), refill_id)}

    # cancel ----------------------------------------------------------------------------------------------

    def cancel(self, account: Account, params: dict[str, str]) -> object:
        if "cancels" in params:
            items = []
            for cancel_id in self._ids(params, "cancels"):
                cancel = self.state.cancels.get(cancel_id)
                if cancel is None or cancel.key != account.key:
                    items.append({"cancel": self._id(cancel_id), "status": self._item_error("Cancel not found")})
                else:
                    items.append({"cancel": self._id(cancel_id),
                                  "status": self._word(self.state.request_status(cancel), cancel_id)})
            return items
        if "orders" in params:
            if self.config.cancel_order_only:
                raise ApiError("Incorrect request")
            return [self._cancel_item(account, order_id) for order_id in self._ids(params, "orders")]
        order_id = params.get("order", "").strip()
        if not order_id:
            raise ApiError("Incorrect request")
        item = self._cancel_item(account, order_id)
        if isinstance(item["cancel"], (dict, str)):
            raise ApiError(item["cancel"]["error"] if isinstance(item["cancel"], dict) else item["cancel"])
        item.pop("order")
        return self._ok(item)

    def _cancel_item(self, account: Account, order_id: str) -> dict:
        order = self.state.find_order(account.key, order_id)
        outcome = self.state.create_cancel(order) if order else "Incorrect order ID"
        item: dict[str, object] = {"order": self._id(order_id)}
        if isinstance(outcome, str):
            item["cancel"] = self._item_error(outcome)
        elif self.config.cancel_ids:
            item["type"] = "subscription" if order.sub is not None else ("dripfeed" if order.runs else "order")
            item["cancel"] = self._id(outcome.request_id)
        else:
            item["cancel"] = 1
        return item


def _int(value: str, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ApiError(f"Incorrect {name}") from None
