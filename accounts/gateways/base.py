"""What every payment gateway module provides, and the answers it gives.

A gateway module turns the panel's three questions into the gateway's API calls:

* `create_checkout`: where to send the buyer to pay a deposit;
* `parse_webhook`: is this notification really from the gateway, and what does it say;
* `fetch_state`: what the gateway says now about a deposit (the return page, reconciliation).

It answers with `PaymentState`s and never moves money: accounts.deposits decides what a state means
for the balance, once, under locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from accounts.models import Deposit, Gateway


class Outcome:
    """What a gateway's answer means for a deposit."""

    PAID = "paid"  # money received: `amount` and `currency` say how much
    PENDING = "pending"  # nothing final yet
    FAILED = "failed"  # the payment failed or was canceled
    EXPIRED = "expired"  # the checkout expired unpaid
    REVIEW = "review"  # something was received that a person must look at (e.g. a wrong amount)
    IGNORE = "ignore"  # verified, but not about a deposit of ours or not an event we act on


@dataclass(frozen=True)
class Checkout:
    reference: str  # the gateway's id of the payment: Stripe session, PayPal order, Cryptomus invoice
    redirect_url: str  # the page where the buyer pays


@dataclass(frozen=True)
class PaymentState:
    outcome: str
    reference: str = ""  # the gateway's id, when the answer names one
    deposit_id: int | None = None  # our deposit's id, when the answer names one (metadata, order_id)
    amount: Decimal | None = None  # what was received, for PAID and REVIEW
    currency: str = ""
    note: str = ""  # shown to the admin
    # The payment is final even if it is less than asked (a crypto invoice paid short, with the panel set to
    # credit what came): what was received is credited instead of holding the deposit for review.
    less_is_final: bool = False
    raw: Mapping = field(default_factory=dict)  # the event or payment, kept on the deposit for the admin


class WebhookRefused(Exception):
    """A notification that must not be believed (bad signature, stale, tampered): answered 4xx, logged."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class GatewayError(Exception):
    """The gateway could not be asked or refused the call; the message never carries a secret."""


class GatewayModule:
    """The base of every gateway module. Subclasses set `kind`, `credential_names`, `default_api_base`."""

    kind: ClassVar[str]
    credential_names: ClassVar[tuple[str, ...]]
    default_api_base: ClassVar[str]
    timeout_seconds: ClassVar[float] = 20

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.api_base = (gateway.api_base or self.default_api_base).rstrip("/")

    def credential(self, name: str) -> str:
        value = (self.gateway.credentials or {}).get(name, "")
        if not value:
            raise GatewayError(f"Gateway {self.gateway.name}: the credential {name!r} is not set")
        return str(value)

    def create_checkout(self, deposit: Deposit, *, success_url: str, cancel_url: str,
                        webhook_url: str) -> Checkout:
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentState:
        """Verify and read one notification. Raises WebhookRefused for anything that does not verify."""
        raise NotImplementedError

    def fetch_state(self, deposit: Deposit) -> PaymentState:
        """Ask the gateway about the deposit now (PayPal captures an approved order here)."""
        raise NotImplementedError


def decimal_from(value: object, *, minor_units: bool = False, exponent: int = 2) -> Decimal:
    """A gateway's amount as a Decimal: from its string, or from integer minor units (cents). Never via float."""
    if isinstance(value, float):
        raise WebhookRefused("An amount came as a float")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise WebhookRefused(f"Not an amount: {value!r}") from None
    if not amount.is_finite():
        raise WebhookRefused(f"Not an amount: {value!r}")
    return amount.scaleb(-exponent) if minor_units else amount
