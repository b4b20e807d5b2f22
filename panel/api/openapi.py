"""The OpenAPI 3.1 description of /api/v2, built from the tables the API itself runs on.

`add`'s request shapes come from providers.ordertypes (the table `add` validates against and the docs
page lists), the limits from orders.validation and panel.api.parsing, the statuses from the order
models, and the words and examples from the docs page, so the description cannot drift from the API.

v2 is one URL that dispatches on the `action` field, so the description is one operation, POST
/api/v2, whose body is a `oneOf` over the actions with `action` as its discriminator; an action that
takes several shapes (`add` by order type, `status` with one id or many...) is an `anyOf` of them.
Each action's answer is the component `<Action>Answer`; the 200 response is any of them.

A copy is kept in the repository, and a test fails while it differs from what this module builds;
after changing the API, regenerate it with `DEBUG=1 .venv/bin/python -m panel.api.openapi`.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

COMMITTED_COPY = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
API_PATH = "/api/v2"
EXAMPLE_CURRENCY = "USD"

# The component holding each action's request and the one holding its answer.
REQUESTS = {
    "services": "ServicesRequest",
    "add": "AddRequest",
    "status": "StatusRequest",
    "refill": "RefillRequest",
    "refill_status": "RefillStatusRequest",
    "cancel": "CancelRequest",
    "balance": "BalanceRequest",
}
ANSWERS = {action: name.replace("Request", "Answer") for action, name in REQUESTS.items()}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _camel(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in name.replace("-", " ").split())


def _field_component(name: str) -> str:
    return "Field" + _camel(name.replace("_", " "))


def _whole(minimum: int, maximum: int, description: str) -> dict:
    """A whole number: an integer in JSON, ASCII digits in a form (the pattern applies to strings only)."""
    return {"type": ["integer", "string"], "minimum": minimum, "maximum": maximum, "pattern": "^[0-9]+$",
            "maxLength": len(str(maximum)), "description": description}


# --- requests -----------------------------------------------------------------------------------


def _field_schemas() -> dict[str, dict]:
    """The JSON Schema of each order field, from its kind, its limits and the docs page's help text."""
    from orders.validation import MAX_INT, MAX_INTERVAL_MINUTES, MAX_RUNS
    from panel.api.docs import _field_help
    from providers.ordertypes import FIELDS, SUBSCRIPTION_DELAYS

    bounds = {"runs": (0, MAX_RUNS), "interval": (0, MAX_INTERVAL_MINUTES), "old_posts": (0, MAX_INT)}
    schemas = {}
    for name, spec in FIELDS.items():
        text = _field_help(name)
        if spec.kind == "int":
            low, high = bounds.get(name, (1, MAX_INT))
            schemas[name] = _whole(low, high, text)
        elif spec.kind == "choice":
            schemas[name] = {"type": ["integer", "string"], "description": text,
                             "enum": [*SUBSCRIPTION_DELAYS, *(str(delay) for delay in SUBSCRIPTION_DELAYS)]}
        elif spec.kind == "url":
            schemas[name] = {"type": "string", "maxLength": spec.max_length, "description": text,
                             "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*$"}
        elif spec.kind == "date":
            schemas[name] = {"type": "string", "maxLength": spec.max_length, "description": text,
                             "pattern": "^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"}
        elif name == "answer_number":
            schemas[name] = {"type": "string", "maxLength": spec.max_length, "description": text,
                             "pattern": "^[1-9][0-9]*$"}
        else:  # text, lines: something other than blanks
            schemas[name] = {"type": "string", "minLength": 1, "maxLength": spec.max_length, "description": text,
                             "pattern": r"\S"}
    return schemas


def _request_schemas() -> dict[str, dict]:
    from orders.add_requests import REQUEST_ID_MAX_LENGTH
    from panel.api.docs import REQUEST_ID_HELP, _actions, _order_types
    from panel.api.parsing import MAX_ID, MAX_IDS
    from providers.ordertypes import ORDER_TYPES

    docs = {action.anchor: action for action in _actions(EXAMPLE_CURRENCY)}
    type_anchors = {order_type["name"]: order_type["anchor"] for order_type in _order_types()}
    key = {"type": "string", "minLength": 1, "description": "Your API key (the API page of your account)."}
    one_id = {"type": ["integer", "string"], "minimum": 1, "maximum": MAX_ID, "pattern": "^[1-9][0-9]*$",
              "maxLength": len(str(MAX_ID))}
    digits = f"[1-9][0-9]{{0,{len(str(MAX_ID)) - 1}}}"
    many_ids = {"type": "string", "pattern": f"^{digits}(,{digits}){{0,{MAX_IDS - 1}}}$"}

    def shape(title: str, action: str, anchor: str, fields: dict[str, dict], required: tuple[str, ...],
              description: str = "") -> dict:
        notes = docs[anchor].notes if anchor in docs else ""
        text = " ".join(part for part in (description, notes) if part)
        return {
            "title": title,
            "type": "object",
            "description": f"{text} See /api#{anchor}.".strip(),
            "properties": {"key": key, "action": {"type": "string", "enum": [action]}, **fields},
            "required": ["key", "action", *required],
            "additionalProperties": False,
        }

    def ids(description: str) -> dict:
        return {**one_id, "description": description}

    def id_list(description: str) -> dict:
        return {**many_ids, "description": f"{description} separated by commas, at most {MAX_IDS}"}

    field_schemas = {name: _ref(_field_component(name)) for name in _field_schemas()}
    schemas: dict[str, dict] = {_field_component(name): schema for name, schema in _field_schemas().items()}
    schemas |= {
        "ServicesRequest": shape("services", "services", "services", {}, ()),
        "BalanceRequest": shape("balance", "balance", "balance", {}, ()),
    }
    add_shapes = []
    schemas["FieldRequestId"] = {"type": "string", "minLength": 1, "maxLength": REQUEST_ID_MAX_LENGTH,
                                 "pattern": f"^[!-~]{{1,{REQUEST_ID_MAX_LENGTH}}}$", "description": REQUEST_ID_HELP}
    for order_type in ORDER_TYPES.values():
        name = "Add" + _camel(order_type.name)
        fields = {"service": ids(f"Service ID of a service whose `type` is {order_type.name}")}
        fields |= {field: field_schemas[field] for field in order_type.all_fields}
        fields["request_id"] = _ref("FieldRequestId")
        schemas[name] = shape(f"add: {order_type.name}", "add", type_anchors[order_type.name], fields,
                              ("service", *order_type.required), order_type.notes)
        add_shapes.append(_ref(name))
    schemas["AddRequest"] = {
        "title": "add",
        "description": docs["add"].notes + " The fields besides `service` are those of the service's type, "
                       "one shape per type; the service, not the fields, says which applies.",
        "anyOf": add_shapes,
    }
    for group, one, many in (("Status", "status", "multi-status"), ("Refill", "refill", "multi-refill")):
        action = group.lower()
        schemas[f"{group}One"] = shape(f"{action}: one order", action, one, {"order": ids("Order ID")}, ("order",))
        schemas[f"{group}Many"] = shape(f"{action}: several orders", action, many,
                                        {"orders": id_list("Order IDs")}, ("orders",))
        schemas[f"{group}Request"] = {"title": action, "anyOf": [_ref(f"{group}One"), _ref(f"{group}Many")]}
    schemas["RefillStatusOne"] = shape("refill_status: one refill", "refill_status", "refill-status",
                                       {"refill": ids("Refill ID")}, ("refill",))
    schemas["RefillStatusMany"] = shape("refill_status: several refills", "refill_status", "multi-refill-status",
                                        {"refills": id_list("Refill IDs")}, ("refills",))
    schemas["RefillStatusRequest"] = {"title": "refill_status",
                                      "anyOf": [_ref("RefillStatusOne"), _ref("RefillStatusMany")]}
    schemas["CancelOne"] = shape("cancel: one order", "cancel", "cancel", {"order": ids("Order ID")}, ("order",))
    schemas["CancelMany"] = shape("cancel: several orders", "cancel", "cancel",
                                  {"orders": id_list("Order IDs")}, ("orders",))
    schemas["CancelStatus"] = shape("cancel: status of cancels", "cancel", "cancel-status",
                                    {"cancels": id_list("Cancel IDs")}, ("cancels",))
    schemas["CancelRequest"] = {"title": "cancel",
                                "anyOf": [_ref("CancelOne"), _ref("CancelMany"), _ref("CancelStatus")]}
    schemas["Request"] = {
        "description": "`key`, `action` and the action's parameters.",
        "oneOf": [_ref(name) for name in REQUESTS.values()],
        "discriminator": {"propertyName": "action",
                          "mapping": {action: f"#/components/schemas/{name}" for action, name in REQUESTS.items()}},
    }
    return schemas


# --- answers ------------------------------------------------------------------------------------


def _answer_schemas() -> dict[str, dict]:
    from orders.models import RequestStatus, Status

    def obj(properties: dict, required: tuple[str, ...] | None = None, **extra) -> dict:
        return {"type": "object", "properties": properties,
                "required": list(properties if required is None else required), "additionalProperties": False,
                **extra}

    def array_of(item: dict, **extra) -> dict:
        return {"type": "array", "items": item, "minItems": 1, **extra}

    def either(*schemas: dict, **extra) -> dict:
        return {"oneOf": list(schemas), **extra}

    error = _ref("Error")
    decimal = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2,}$"}
    count = {"type": "string", "pattern": "^-?[0-9]+$"}
    pk = {"type": "integer", "minimum": 1}
    currency = {"type": "string", "description": "The panel's currency code"}
    order_statuses = {"type": "string", "enum": list(Status.values)}
    request_statuses = {"type": "string", "enum": list(RequestStatus.values)}
    return {
        "Error": obj({"error": {"type": "string", "minLength": 1}},
                     description="A refusal. Nothing was charged or stored."),
        "Service": obj({
            "service": pk, "name": {"type": "string"},
            "type": {"type": "string", "description": "The order type: which fields `add` takes"},
            "category": {"type": "string"}, "rate": {**decimal, "description": "Price per 1000, your discount applied"},
            "min": count, "max": count, "refill": {"type": "boolean"}, "cancel": {"type": "boolean"},
            "dripfeed": {"type": "boolean"},
        }),
        "ServicesAnswer": either(array_of(_ref("Service"), minItems=0), error),
        "AddAnswer": either(obj({"order": pk}), error),
        "OrderStatus": obj({
            "charge": decimal, "start_count": count, "status": order_statuses, "remains": count, "currency": currency,
            "runs": {**count, "description": "Drip-feed: runs started so far"},
            "orders": {"type": "array", "items": {"type": ["integer", "string"]},
                       "description": "Drip-feed: the runs' own order ids"},
        }, ("charge", "start_count", "status", "remains", "currency")),
        "SubscriptionStatus": obj({
            "charge": decimal, "status": order_statuses, "posts": count,
            "expiry": {"type": ["string", "null"], "pattern": "^[0-9]{2}/[0-9]{2}/[0-9]{4}$"}, "currency": currency,
        }),
        "StatusAnswer": either(
            _ref("OrderStatus"), _ref("SubscriptionStatus"),
            {"type": "object", "minProperties": 1, "propertyNames": {"pattern": "^[0-9]+$"},
             "additionalProperties": either(_ref("OrderStatus"), _ref("SubscriptionStatus"), error),
             "description": "Several orders: the status of each, by order id"},
            error),
        "RefillAnswer": either(
            obj({"refill": count}),
            array_of(obj({"order": pk, "refill": either(pk, error)})),
            error),
        "RefillStatusAnswer": either(
            obj({"status": request_statuses}),
            array_of(obj({"refill": pk, "status": either(request_statuses, error)})),
            error),
        "CancelAnswer": either(
            obj({"cancel": pk}),
            array_of(either(obj({"order": pk, "type": {"type": "string", "enum": ["order", "dripfeed", "subscription"]},
                                 "cancel": pk}),
                            obj({"order": pk, "cancel": error}))),
            array_of(obj({"cancel": pk, "status": either(request_statuses, error)})),
            error),
        "BalanceAnswer": either(obj({"balance": decimal, "currency": currency}), error),
        "Answer": {"anyOf": [_ref(name) for name in ANSWERS.values()]},
    }


# --- the document -------------------------------------------------------------------------------


def _error_response(description: str, **extra) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}, **extra}


def openapi_document() -> dict:
    from panel.api.docs import ERRORS, _actions

    examples = {
        action.anchor: {"summary": action.title, "value": action.example}
        for action in _actions(EXAMPLE_CURRENCY)
    }
    errors = "\n".join(f"* `{message}`: {meaning}" for message, meaning in ERRORS)
    body_schema = {"schema": _ref("Request")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "API v2",
            "version": "2",
            "description": (
                "The de-facto standard reseller protocol: one URL, `POST` with `key`, `action` and the action's "
                "parameters as form fields or a JSON object (GET query parameters are also read). Every answer "
                "is JSON; a refusal is `{\"error\": \"...\"}` with HTTP 200, except the rate limit (429) and an "
                "oversized body (413). The human-readable version is the API page at `/api`.\n\nErrors:\n\n"
                + errors
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            API_PATH: {
                "post": {
                    "operationId": "apiV2",
                    "summary": "Call one action",
                    "requestBody": {
                        "required": True,
                        "content": {"application/x-www-form-urlencoded": body_schema, "application/json": body_schema},
                    },
                    "responses": {
                        "200": {
                            "description": "The action's answer (`<Action>Answer`), or `{\"error\": \"...\"}`.",
                            "content": {"application/json": {"schema": _ref("Answer"), "examples": examples}},
                        },
                        "413": _error_response("The body is larger than the panel accepts."),
                        "429": _error_response(
                            "Too many requests: wait the seconds in `Retry-After`.",
                            headers={"Retry-After": {"required": True, "description": "Seconds to wait",
                                                     "schema": {"type": "string", "pattern": "^[0-9]+$"}}}),
                        "500": _error_response(
                            "A fault of the panel: the outcome is unknown, so an `add` must not be resent blindly."),
                    },
                },
            },
        },
        "components": {"schemas": _request_schemas() | _answer_schemas()},
    }


@functools.cache
def openapi_json() -> str:
    """The document as committed: two-space indents, keys in the order built, a final newline."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


@require_safe
def openapi_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(openapi_json(), content_type="application/json")


def main(argv: list[str]) -> int:
    """Write the committed copy; with --check, only say whether it is current (exit 1 when not)."""
    text = openapi_json()
    current = COMMITTED_COPY.read_text(encoding="utf-8") if COMMITTED_COPY.exists() else ""
    if "--check" in argv:
        if current != text:
            print(f"{COMMITTED_COPY} is out of date: run `python -m panel.api.openapi`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        COMMITTED_COPY.parent.mkdir(parents=True, exist_ok=True)
        COMMITTED_COPY.write_text(text, encoding="utf-8")
        print(f"wrote {COMMITTED_COPY}")
    else:
        print(f"{COMMITTED_COPY} is up to date")
    return 0


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    django.setup()
    sys.exit(main(sys.argv[1:]))
