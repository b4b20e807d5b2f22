"""The simulator's switches: fault injection, answer quirks and how orders end."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# Status words as some panels spell them; with `spelling_variants` on, one is picked per id.
SPELLING_VARIANTS: dict[str, tuple[str, ...]] = {
    "Pending": ("pending", "PENDING"),
    "In progress": ("In Progress", "inprogress", "in_progress", "IN PROGRESS"),
    "Completed": ("completed", "COMPLETED"),
    "Partial": ("partial", "PARTIAL"),
    "Canceled": ("Cancelled", "canceled", "CANCELLED"),
    "Rejected": ("rejected", "REJECTED"),
    "Active": ("active", "ACTIVE"),
    "Expired": ("expired",),
}


@dataclass
class SimConfig:
    # Faults (shares are probabilities 0..1, drawn from the seeded generator).
    latency_ms: int = 0
    html_502_share: float = 0.0
    hang_share: float = 0.0
    hang_seconds: float = 30.0  # how long a hang lasts; longer than the client's timeout
    hang_close: bool = False  # after a hang, close the connection instead of answering
    rate_limit_share: float = 0.0
    retry_after: str = "7"  # the Retry-After header sent with a 429
    hang_after_accept: bool = False  # `add`: create the order, then hang (the caller cannot know)

    # `add` honours `request_id` as this panel's own /api/v2 does: the same id again from the same key gets the
    # same order (nothing charged twice); with other parameters, an error. Off: the parameter is ignored.
    honour_request_id: bool = False

    # Answer quirks.
    numbers_as_numbers: bool = False
    spelling_variants: bool = False
    status_words: dict[str, str] = field(default_factory=dict)  # e.g. {"Canceled": "Refunded"}
    non_numeric_ids: bool = False
    refill_status_type_key: bool = False
    cancel_ids: bool = False  # cancel answers carry a cancel id and a `type` (the smmsend extension)
    cancel_order_only: bool = False  # `cancel` takes only `order=`; `orders=` is refused
    errors_as_list: bool = False  # errors as {"errors": [...]}
    item_errors_as_strings: bool = False  # per-id errors as a bare string instead of {"error": ...}
    success_key: bool = False  # add "status": "success" to answers that have no `status` of their own
    empty_catalogue_as_object: bool = False  # an empty catalogue answered as {} instead of []
    missing_fields: bool = False  # leave out `currency` and `dripfeed`
    dripfeed_child_orders: bool = False  # drip-feed status lists its runs' own order ids in `orders`
    remains_style: str = "string"  # "string", "unknown" ("Unknown"), "negative" (on Completed), "missing"

    # How orders end and how fast things move (seconds of simulated time).
    partial_share: float = 0.1
    canceled_share: float = 0.05
    refill_rejected_share: float = 0.1
    pending_seconds: float = 30.0
    order_seconds: float = 300.0
    refill_seconds: float = 120.0
    cancel_seconds: float = 60.0
    subscription_posts_per_hour: float = 6.0

    # Catalogue size (regenerated deterministically when changed).
    services_count: int = 2500

    def set(self, **changes) -> None:
        names = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise AttributeError(f"unknown simulator switch: {name}")
            setattr(self, name, value)
