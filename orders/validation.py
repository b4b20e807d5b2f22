"""Turn what a customer sent (API fields or a browser form) into a priced, valid order input.

One function for the API and the browser, driven by providers.ordertypes, so they cannot drift.
Error messages use the words v2 clients already parse where one exists.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from django.utils.translation import gettext, gettext_noop

from accounts.money import ZERO
from providers.models import Service
from providers.ordertypes import (
    FIELDS,
    ORDER_TYPES,
    SUBSCRIPTION_DELAYS,
    SUBSCRIPTIONS,
    OrderType,
    split_lines,
)
from providers.pricing import charge_for, customer_rate, subscription_units, units_for

MAX_RUNS = 1000
MAX_INTERVAL_MINUTES = 60 * 24 * 30
MAX_LIST_ITEMS = 10_000
MAX_INT = 2_147_483_647
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_MAX_DIGITS = 19  # a bigint's worth; longer runs of digits are out of any range (and slow for int())

# Messages, in the API's English; the pages show them translated (OrderInputError.localized).
MISSING = gettext_noop("Missing %(name)s")
AT_LEAST = gettext_noop("Incorrect %(name)s: must be at least %(minimum)s")
AT_MOST = gettext_noop("Incorrect %(name)s: must be at most %(maximum)s")
NOT_A_URL = gettext_noop("Incorrect %(name)s: must be an http(s) URL")
INCORRECT_SERVICE = gettext_noop("Incorrect service ID")


def whole_number(raw: object) -> int | None:
    """`raw` as a non-negative int when it is ASCII decimal digits (spaces around allowed), else None.

    Not int() alone: it also takes "6_1", "+61", "６１" and "٦١". A JSON integer is its digits.
    """
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


class OrderInputError(ValueError):
    """The input cannot become an order.

    `message` is the English sentence the API answers (v2 clients parse it); `localized()` is the same in the
    active language, for the pages, where a `name` parameter (the field's name in the API's words) becomes
    the field's label.
    """

    def __init__(self, template: str, *, field: str | None = None, **params: object) -> None:
        message = template % params if params else template
        super().__init__(message)
        self.message, self.template, self.params, self.field = message, template, params, field

    def localized(self) -> str:
        params = dict(self.params)
        if params.get("name") in FIELDS:
            # Mid-sentence in English ("Missing quantity"); a sentence that starts with it is capitalised below.
            label = gettext(FIELDS[params["name"]].label)
            params["name"] = label[:1].lower() + label[1:]
        text = gettext(self.template)
        text = text % params if params else text
        return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class OrderInput:
    service: Service
    rate: Decimal  # per 1000, after the customer's discount
    quantity: int  # per run for drip-feed; 1 for packages; 0 for subscriptions
    units: int  # what is charged up front, by providers.pricing: quantity × runs, posts × max, per package
    charge: Decimal
    values: dict[str, object] = field(default_factory=dict)  # Order model field -> value


def _text(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict | set):
        # Never the first item taken for the whole: `[100]` is not a quantity of 100. A list field
        # may come as a list of lines.
        lines_field = FIELDS[name].kind == "lines" and isinstance(value, list | tuple)
        if not lines_field or not all(isinstance(item, str | int) for item in value):
            raise OrderInputError(gettext_noop("Incorrect %(name)s: must be a single value"), field=name, name=name)
        value = "\n".join(str(item) for item in value)
    text = str(value)
    if "\x00" in text:
        # PostgreSQL refuses NUL in text columns: refuse it here, with the field's name, not as a crash.
        raise OrderInputError(gettext_noop("Incorrect %(name)s: contains a null character"), field=name, name=name)
    return text.strip() if FIELDS[name].kind != "lines" else text


def _int(data: Mapping[str, object], name: str, *, required: bool, minimum: int = 0) -> int | None:
    raw = _text(data, name)
    if raw == "":
        if required:
            raise OrderInputError(MISSING, field=name, name=name)
        return None
    # Not int() alone: it also takes "1_000" and non-ASCII digits.
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise OrderInputError(gettext_noop("Incorrect %(name)s: must be a whole number"), field=name, name=name)
    if len(raw.lstrip("-")) > _MAX_DIGITS:
        # Out of range either way, and int() of thousands of digits is refused (or slow).
        if raw.startswith("-"):
            raise OrderInputError(AT_LEAST, field=name, name=name, minimum=minimum)
        raise OrderInputError(AT_MOST, field=name, name=name, maximum=MAX_INT)
    number = int(raw)
    if number < minimum:
        raise OrderInputError(AT_LEAST, field=name, name=name, minimum=minimum)
    if number > MAX_INT:
        raise OrderInputError(AT_MOST, field=name, name=name, maximum=MAX_INT)
    return number


def _too_long(raw: str, name: str) -> None:
    if len(raw) > FIELDS[name].max_length:
        raise OrderInputError(gettext_noop("Incorrect %(name)s: longer than %(max)s characters"), field=name, name=name,
                              max=FIELDS[name].max_length)


def _short_text(data: Mapping[str, object], name: str) -> str:
    raw = _text(data, name)
    if not raw:
        raise OrderInputError(MISSING, field=name, name=name)
    _too_long(raw, name)
    return raw


def _url(data: Mapping[str, object], name: str) -> str:
    raw = _short_text(data, name)
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise OrderInputError(NOT_A_URL, field=name, name=name) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in raw):
        raise OrderInputError(NOT_A_URL, field=name, name=name)
    return raw


def _lines(data: Mapping[str, object], name: str) -> list[str]:
    raw = _text(data, name)
    _too_long(raw, name)
    items = split_lines(raw)
    if not items:
        raise OrderInputError(MISSING, field=name, name=name)
    if len(items) > MAX_LIST_ITEMS:
        raise OrderInputError(gettext_noop("Incorrect %(name)s: at most %(max)s lines"), field=name, name=name,
                              max=MAX_LIST_ITEMS)
    return items


def _within_limits(service: Service, quantity: int, name: str = "quantity") -> None:
    if quantity < service.min:
        raise OrderInputError(gettext_noop("Quantity less than minimal %(min)s"), field=name, min=service.min)
    if quantity > service.max:
        raise OrderInputError(gettext_noop("Quantity more than maximal %(max)s"), field=name, max=service.max)


def _expiry(data: Mapping[str, object], today: dt.date) -> dt.date | None:
    raw = _text(data, "expiry")
    if not raw:
        return None
    try:
        value = dt.datetime.strptime(raw, "%d/%m/%Y").date()
    except ValueError:
        raise OrderInputError(gettext_noop("Incorrect expiry: use the format d/m/Y, e.g. 31/12/2026"),
                              field="expiry") from None
    if value <= today:
        raise OrderInputError(gettext_noop("Incorrect expiry: must be a future date"), field="expiry")
    return value


def _subscription_units(service: Service, data: Mapping[str, object]) -> tuple[dict, int]:
    """The fields that price a subscription, and the units charged up front."""
    low = _int(data, "min", required=True, minimum=1)
    high = _int(data, "max", required=True, minimum=1)
    if low > high:
        raise OrderInputError(gettext_noop("Incorrect min: must not be more than max"), field="min")
    _within_limits(service, low, "min")
    _within_limits(service, high, "max")
    posts = _int(data, "posts", required=False)
    old_posts = _int(data, "old_posts", required=False)
    if posts == 0:
        raise OrderInputError(gettext_noop("Incorrect posts: must be at least 1, or left out for unlimited"),
                              field="posts")
    # With `posts`, every post that may come (the new ones and the old ones asked for) is paid up front
    # at `max`; without, each post is charged as it appears (nothing up front).
    units = subscription_units(posts=posts + (old_posts or 0), post_max=high) if posts else 0
    return {"sub_min": low, "sub_max": high, "sub_posts": posts, "sub_old_posts": old_posts}, units


def _subscription(service: Service, data: Mapping[str, object], today: dt.date) -> tuple[dict, int, int]:
    values: dict[str, object] = {"username": _short_text(data, "username")}
    priced, units = _subscription_units(service, data)
    delay = _int(data, "delay", required=True)
    if delay not in SUBSCRIPTION_DELAYS:
        allowed = ", ".join(str(d) for d in SUBSCRIPTION_DELAYS)
        raise OrderInputError(gettext_noop("Incorrect delay: must be one of %(allowed)s"), field="delay",
                              allowed=allowed)
    values.update(priced, sub_delay=delay, sub_expiry=_expiry(data, today))
    return values, 0, units


def _quantity_units(service: Service, order_type: OrderType, data: Mapping[str, object]) -> tuple[int, int, dict]:
    """The quantity (per run), the units charged and the drip-feed fields, for any type but subscriptions."""
    if order_type.per_package:
        quantity = 1
    elif order_type.quantity_from:
        quantity = len(_lines(data, order_type.quantity_from))
        _within_limits(service, quantity, order_type.quantity_from)
    else:
        quantity = _int(data, "quantity", required=True, minimum=1)
        _within_limits(service, quantity)

    runs = _int(data, "runs", required=False) if "runs" in order_type.optional else None
    interval = _int(data, "interval", required=False) if "interval" in order_type.optional else None
    if not runs and not interval:
        # Clients that always send the drip-feed fields send 0 (or nothing) for a plain order.
        runs = interval = None
    drip: dict[str, object] = {}
    if runs is not None or interval is not None:
        if not service.dripfeed:
            raise OrderInputError(gettext_noop("Drip-feed is not available for this service"), field="runs")
        if runs is None or interval is None:
            missing = "runs" if runs is None else "interval"
            raise OrderInputError(gettext_noop("Drip-feed needs both runs and interval"), field=missing)
        if not 2 <= runs <= MAX_RUNS:
            raise OrderInputError(gettext_noop("Incorrect runs: must be from 2 to %(max)s"), field="runs", max=MAX_RUNS)
        if not 1 <= interval <= MAX_INTERVAL_MINUTES:
            raise OrderInputError(gettext_noop("Incorrect interval: must be from 1 to %(max)s minutes"),
                                  field="interval", max=MAX_INTERVAL_MINUTES)
        drip = {"runs": runs, "interval": interval}
    return quantity, units_for(order_type, quantity=quantity, runs=runs), drip


def _order_type(service: Service) -> OrderType:
    order_type = ORDER_TYPES.get(service.type)
    if order_type is None:
        raise OrderInputError(INCORRECT_SERVICE)
    return order_type


def order_quote(*, service: Service, data: Mapping[str, object], discount_percent: Decimal = ZERO) -> Decimal:
    """What an order of `data` for `service` would be charged, checking only the fields that set the price.

    The same steps as `clean_order_input` price it, so the figure shown before ordering is the one charged.
    Raises OrderInputError with a customer-facing message.
    """
    order_type = _order_type(service)
    rate = customer_rate(service=service, discount_percent=discount_percent)
    if order_type.name == SUBSCRIPTIONS:
        _, units = _subscription_units(service, data)
    else:
        _, units, _ = _quantity_units(service, order_type, data)
    return charge_for(rate=rate, units=units)


def clean_order_input(
    *, service: Service, data: Mapping[str, object], discount_percent: Decimal = ZERO, today: dt.date | None = None
) -> OrderInput:
    """Validate `data` for `service`'s type and price it. Raises OrderInputError with a customer-facing message."""
    order_type = _order_type(service)
    today = today or dt.date.today()
    rate = customer_rate(service=service, discount_percent=discount_percent)
    values: dict[str, object] = {}

    if order_type.name == SUBSCRIPTIONS:
        values, quantity, units = _subscription(service, data, today)
        charge = charge_for(rate=rate, units=units)
        return OrderInput(service=service, rate=rate, quantity=quantity, units=units, charge=charge, values=values)

    values["link"] = _url(data, "link")
    for name in order_type.required:
        if name in ("link", "quantity"):
            continue
        spec = FIELDS[name]
        if spec.kind == "lines":
            values[name] = "\n".join(_lines(data, name))
        elif spec.kind == "url":
            values[name] = _url(data, name)
        else:
            values[name] = _short_text(data, name)
    if "answer_number" in values:
        answer = values["answer_number"]
        number = whole_number(answer)
        if number is None or number < 1:
            raise OrderInputError(gettext_noop("Incorrect %(name)s: must be a positive whole number"),
                                  field="answer_number", name="answer_number")

    quantity, units, drip = _quantity_units(service, order_type, data)
    values.update(drip)
    charge = charge_for(rate=rate, units=units)
    return OrderInput(service=service, rate=rate, quantity=quantity, units=units, charge=charge, values=values)
