"""What an upstream's refusal of `add` is about: the provider (our funds there, the service gone or switched off,
our account or key) or the order itself (its link, its quantity...). Panels word these freely; the patterns
below are the words the common panels use, this panel's own /api/v2 included.

A refusal about the provider says nothing about the order: another provider may take it (orders.failover).
One about the order would be refused anywhere: it fails and is refunded. Anything not recognised is taken
to be about the order, the answer that never sends an order twice to be refused twice.
"""

from __future__ import annotations

import re

FUNDS = "funds"  # our balance at the provider is short
SERVICE = "service"  # the service is unknown, gone or switched off there
ACCOUNT = "account"  # our key or account there is refused, or the panel is closed for orders
ORDER = "order"  # about the order itself

PROVIDER_SIDE = (FUNDS, SERVICE, ACCOUNT)

_FUNDS = re.compile(r"not enough funds|insufficient funds|\bbalance\b|\bfunds\b", re.IGNORECASE)
_SERVICE = re.compile(
    r"incorrect service|invalid service|unknown service|no such service|service (?:id )?not found"
    r"|service (?:does not|doesn't) exist|service (?:is )?(?:disabled|inactive|not active|unavailable"
    r"|not available|paused|closed|off|deleted|removed|suspended)|service\b.{0,20}\bnot (?:allowed|enabled)",
    re.IGNORECASE)
_ACCOUNT = re.compile(
    r"(?:invalid|incorrect|wrong|unknown|disabled|blocked) (?:api )?key|api key (?:is )?(?:invalid|disabled|blocked)"
    r"|account (?:is )?(?:suspended|blocked|disabled|banned|inactive)|maintenance|new orders (?:are )?(?:disabled"
    r"|paused|closed)",
    re.IGNORECASE)


def add_refusal_kind(message: str) -> str:
    """FUNDS, SERVICE, ACCOUNT or ORDER for the message of a refused `add`."""
    text = message or ""
    if _FUNDS.search(text):
        return FUNDS
    if _SERVICE.search(text):
        return SERVICE
    if _ACCOUNT.search(text):
        return ACCOUNT
    return ORDER


def is_low_balance(message: str) -> bool:
    """The upstream refused for our balance there (the provider's hold-on-low-balance policy asks this)."""
    return add_refusal_kind(message) == FUNDS
