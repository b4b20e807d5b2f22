"""The kinds of mail the panel sends, who gets each, and whether a customer can turn it off.

Each kind has three templates: `templates/email/<kind>.subject.txt`, `<kind>.txt` and `<kind>.html`.
Security mails (the password reset) are sent by Django's own views and are not listed: they always go.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MailKind:
    name: str
    label: str
    # Opt-in: off until the customer turns it on. Otherwise on until turned off.
    opt_in: bool = False


CUSTOMER_KINDS: dict[str, MailKind] = {kind.name: kind for kind in (
    MailKind("deposit_credited", _("A deposit was credited to my balance")),
    MailKind("order_refunded", _("An order ended Partial or Canceled and was refunded")),
    MailKind("refill_rejected", _("A refill was rejected")),
    MailKind("ticket_answered", _("Support answered my ticket")),
    MailKind("service_updates", _("Weekly digest of changes to services I ordered"), opt_in=True),
    MailKind("webhook_disabled", _("A webhook URL was turned off after failing")),
)}

# Sent to settings.SUPPORT_EMAIL.
STAFF_KINDS = frozenset({"ticket_new", "provider_balance_low", "attention_digest"})


def customer_kind(name: str) -> MailKind:
    """The customer kind of that name; an unknown one is a programming error, not a mail to drop."""
    try:
        return CUSTOMER_KINDS[name]
    except KeyError:
        raise ValueError(f"Unknown customer mail kind {name!r}") from None


def check_staff_kind(name: str) -> None:
    if name not in STAFF_KINDS:
        raise ValueError(f"Unknown staff mail kind {name!r}")


def wants(flags: dict | None, kind: MailKind) -> bool:
    """Whether a customer with these stored flags gets `kind`."""
    value = (flags or {}).get(kind.name)
    return (not kind.opt_in) if value is None else bool(value)
