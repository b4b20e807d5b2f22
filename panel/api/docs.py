"""The public API documentation page at /api.

The order types and their fields come from providers.ordertypes, the same table `add` validates
against, so the page cannot describe a field the API does not take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from orders.add_requests import INCORRECT_REQUEST_ID, REQUEST_ID_DAYS, REQUEST_ID_MAX_LENGTH, REQUEST_ID_REUSED
from orders.validation import MAX_INTERVAL_MINUTES, MAX_RUNS
from panel.api.parsing import MAX_IDS
from providers.ordertypes import FIELDS, ORDER_TYPES, SUBSCRIPTION_DELAYS
from webhooks.delivery import delivery_rules

REQUEST_ID_HELP = (f"Optional: your own id for this order request, 1 to {REQUEST_ID_MAX_LENGTH} visible ASCII "
                   "characters (letters, digits, punctuation; no spaces)")
REQUEST_ID_NOTES = (f"With a `request_id`, the same request sent again within {REQUEST_ID_DAYS} days (an answer you "
                    "did not get, a retry, copies sent at the same moment) answers the same `{\"order\": id}` and is "
                    "charged once; the same `request_id` with other parameters answers "
                    f"`{{\"error\": \"{REQUEST_ID_REUSED}\"}}`. Each customer's ids are their own.")


@dataclass(frozen=True)
class Action:
    anchor: str
    title: str
    action: str
    params: tuple[tuple[str, str], ...]
    example: object
    notes: str = ""

    @property
    def example_json(self) -> str:
        return json.dumps(self.example, indent=2)


def _actions(currency: str) -> list[Action]:
    status_one = {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157",
                  "currency": currency}
    return [
        Action("services", "Service list", "services", (), [
            {"service": 1, "name": "Followers", "type": "Default", "category": "First Category", "rate": "0.90",
             "min": "50", "max": "10000", "refill": True, "cancel": True, "dripfeed": True},
            {"service": 2, "name": "Comments", "type": "Custom Comments", "category": "Second Category",
             "rate": "8.00", "min": "10", "max": "1500", "refill": False, "cancel": True, "dripfeed": False},
        ], "Active services at your price (your discount applied). `rate` is per 1000 units."),
        Action("add", "Add order", "add", (("service", "Service ID"), ("…", "the fields of the service's type, "
                                                                        "see Order types below"),
                                           ("request_id", REQUEST_ID_HELP)),
               {"order": 23501},
               "The charge is taken from your balance when the order is accepted. " + REQUEST_ID_NOTES),
        Action("status", "Order status", "status", (("order", "Order ID"),), status_one,
               "`start_count` is \"0\" until the provider reports it. `remains` is what is not delivered yet: "
               "the whole quantity until the provider reports progress, \"0\" once Completed. `charge` is what "
               "the order costs you after any refund (a Partial order's undelivered part and a Canceled order "
               "are refunded). Drip-feed orders also carry `runs`, the runs delivered so far, once known."),
        Action("subscription-status", "Subscription status", "status", (("order", "Order ID"),),
               {"charge": "2.40", "status": "Active", "posts": "3", "expiry": "31/12/2026", "currency": currency},
               "For subscriptions, `status` is one of Pending, Active, Paused, Completed, Expired, Canceled; "
               "`posts` counts the posts delivered so far (old posts included); `expiry` is the date given "
               "when ordering (d/m/Y) or null. `charge` is what the subscription has cost you so far: with "
               "`posts` set, (posts + old_posts) × max units paid when ordered, less what was refunded for posts "
               "not delivered once it ended (Completed, Expired or Canceled); without `posts`, max units for "
               "each post as it appears. When your balance cannot cover the next post, the subscription is "
               "canceled at the provider and the order says why. Cancel it with `cancel` like any order."),
        Action("dripfeed-status", "Drip-feed status", "status", (("order", "Order ID"),),
               {"charge": "0.60", "start_count": "1200", "status": "In progress", "remains": "200",
                "currency": currency, "runs": "1", "orders": [23502]},
               "A drip-feed order is charged quantity × runs when accepted. `runs` counts the runs started "
               "so far (once the provider reports it), `orders` lists the runs' own order ids where the "
               "provider gives them. Ended Partial or Canceled part way, the runs and units not delivered "
               "(`remains`) are refunded at the price you paid."),
        Action("multi-status", "Multiple orders status", "status",
               (("orders", f"Order IDs separated by a comma, up to {MAX_IDS}"),),
               {"1": status_one, "10": {"error": "Incorrect order ID"}},
               "An order that does not exist or is not yours answers `Incorrect order ID`."),
        Action("refill", "Create refill", "refill", (("order", "Order ID"),), {"refill": "1"},
               "Only for services with refill, on Completed or Partial orders, one at a time, and within the "
               "service's refill rules (a period after completion, a number per order, hours between refills): "
               "a refusal says which, see Errors."),
        Action("multi-refill", "Create multiple refill", "refill",
               (("orders", f"Order IDs separated by a comma, up to {MAX_IDS}"),),
               [{"order": 1, "refill": 1}, {"order": 2, "refill": 2},
                {"order": 3, "refill": {"error": "Incorrect order ID"}}]),
        Action("refill-status", "Get refill status", "refill_status", (("refill", "Refill ID"),),
               {"status": "Completed"}, "Refill statuses: Pending, In progress, Completed, Rejected."),
        Action("multi-refill-status", "Get multiple refill status", "refill_status",
               (("refills", f"Refill IDs separated by a comma, up to {MAX_IDS}"),),
               [{"refill": 1, "status": "Completed"}, {"refill": 2, "status": "Rejected"},
                {"refill": 3, "status": {"error": "Refill not found"}}]),
        Action("cancel", "Create cancel", "cancel",
               (("orders", f"Order IDs separated by a comma, up to {MAX_IDS} (or `order` for one)"),),
               [{"order": 2, "type": "order", "cancel": 1},
                {"order": 9, "cancel": {"error": "Incorrect order ID"}}],
               "Only for services with cancel, on orders not finished yet. With `order=ID` alone the answer "
               "is {\"cancel\": 1}. A refused cancel says why in `error`."),
        Action("cancel-status", "Get multiple cancel status", "cancel",
               (("cancels", f"Cancel IDs separated by a comma, up to {MAX_IDS}"),),
               [{"cancel": 1, "status": "Completed"}, {"cancel": 2, "status": "Rejected"},
                {"cancel": 3, "status": {"error": "Cancel not found"}}]),
        Action("balance", "User balance", "balance", (), {"balance": "100.84292", "currency": currency}),
    ]


def _field_help(name: str) -> str:
    spec = FIELDS[name]
    text = spec.help
    if name == "posts":
        text += ("; at least 1. Each post (and each old post) is paid up front at `max` and what is not "
                 "delivered is refunded when the subscription ends; without it, each post is charged as it comes")
    elif name == "old_posts":
        text += "; 0 or more"
    elif name == "expiry":
        text += "; a future date"
    elif name in ("min", "max"):
        text += "; within the service's min and max, min not above max"
    if name == "delay":
        text += ". Possible values: " + ", ".join(str(d) for d in SUBSCRIPTION_DELAYS)
    elif name == "runs":
        text += f", 2 to {MAX_RUNS}; only on services with drip-feed"
    elif name == "interval":
        text += f", 1 to {MAX_INTERVAL_MINUTES}"
    if spec.max_length and spec.kind != "url":
        text += f" (at most {spec.max_length} characters)"
    elif spec.kind == "url":
        text += f" (http or https, at most {spec.max_length} characters)"
    return text


def _order_types() -> list[dict]:
    types = []
    for order_type in ORDER_TYPES.values():
        fields = [(name, _field_help(name), False) for name in order_type.required]
        fields += [(name, _field_help(name), True) for name in order_type.optional]
        types.append({
            "name": order_type.name,
            "anchor": "type-" + order_type.name.lower().replace(" ", "-"),
            "fields": fields,
            "notes": order_type.notes,
        })
    return types


ERRORS = (
    ("Invalid API key", "The key is missing, wrong, or the account is disabled."),
    ("Incorrect request", "Unknown or missing action, a malformed id, or more than 100 ids."),
    ("Incorrect service ID", "No active service with this id."),
    ("Quantity less than minimal N", "Below the service's minimum."),
    ("Quantity more than maximal N", "Above the service's maximum."),
    ("Not enough funds on balance", "The order costs more than your balance; nothing was charged."),
    (REQUEST_ID_REUSED, f"This `request_id` named another `add` within the last {REQUEST_ID_DAYS} days; nothing "
                        "was charged."),
    (INCORRECT_REQUEST_ID, "The `request_id` is longer than 64 characters, or has spaces or characters outside "
                           "visible ASCII."),
    ("Incorrect order ID", "No order with this id among yours."),
    ("Refill not found", "No refill with this id among yours."),
    ("Refill available in 5 h", "The service's refill rules allow one refill per so many hours; this is when the "
                                "order's next one may be asked for (\"in 40 min\" under an hour)."),
    ("Refill limit reached: 3 per order", "The service allows this many refills per order; refused ones do "
                                          "not count."),
    ("The refill period ended on 2026-05-01 10:00 UTC", "The service accepts refills only so many days after "
                                                        "the order was completed."),
    ("Cancel not found", "No cancel request with this id among yours."),
    ("Too many requests", "Rate limit reached: HTTP 429 with a Retry-After header (seconds)."),
)


def api_docs(request: HttpRequest) -> HttpResponse:
    key_prefix = ""
    if request.user.is_authenticated:
        customer = getattr(request.user, "customer", None)
        key_prefix = getattr(customer, "api_key_prefix", "") or ""
    return render(request, "api/docs.html", {
        "endpoint": request.build_absolute_uri(reverse("api_v2")),
        "currency": settings.PANEL_CURRENCY,
        "actions": _actions(settings.PANEL_CURRENCY),
        "order_types": _order_types(),
        "errors": ERRORS,
        "key_prefix": key_prefix,
        "max_ids": MAX_IDS,
        "rate_per_second": settings.API_RATE_LIMIT_PER_SECOND,
        "rate_burst": settings.API_RATE_LIMIT_BURST,
        "webhook_rules": delivery_rules(),
    })
