"""Which mails each customer wants, and in which language."""

from __future__ import annotations

from django.conf import settings

from notify.kinds import CUSTOMER_KINDS, customer_kind, wants
from notify.models import MailPreference

LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


def mail_language(code: str | None) -> str:
    """A supported language code for `code` ("id-ID" -> "id"); the default when it is none of ours."""
    base = (code or "").split("-")[0].lower()
    return base if base in LANGUAGE_CODES else settings.LANGUAGE_CODE


def customer_ids_opted_in(kind: str) -> set[int]:
    """The customers who turned an opt-in kind on, in one query."""
    name = customer_kind(kind).name  # a known kind, so the lookup below is one of ours
    return set(MailPreference.objects.filter(**{f"flags__{name}": True}).values_list("customer_id", flat=True))


def preferences_for(*, customer_id: int) -> tuple[dict[str, bool], str | None]:
    """({kind: wanted} for every customer kind, the stored language or None), in one query."""
    row = MailPreference.objects.filter(customer_id=customer_id).values_list("flags", "language").first()
    flags, language = row if row else ({}, None)
    return {name: wants(flags, kind) for name, kind in CUSTOMER_KINDS.items()}, language


def preferences_save(*, customer_id: int, wanted: set[str] | frozenset[str], language: str) -> MailPreference:
    """Store which customer kinds the customer wants (every kind is written, so defaults may change later
    without changing anyone's choice) and the language of their mails."""
    unknown = set(wanted) - set(CUSTOMER_KINDS)
    if unknown:
        raise ValueError(f"Unknown mail kinds: {', '.join(sorted(unknown))}")
    flags = {name: name in wanted for name in CUSTOMER_KINDS}
    preference, _created = MailPreference.objects.update_or_create(
        customer_id=customer_id, defaults={"flags": flags, "language": mail_language(language)})
    return preference


def language_remember(*, customer_id: int, language: str) -> None:
    """Keep the language a customer first used, unless they already have preferences (one query)."""
    MailPreference.objects.bulk_create([MailPreference(customer_id=customer_id, language=mail_language(language))],
                                       ignore_conflicts=True)
