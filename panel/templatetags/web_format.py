"""Small display helpers for the customer pages."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext

from providers.pricing import format_money

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount as every page shows it: providers.pricing.format_money (fixed decimals, the language's
    separators)."""
    if value is None or value == "":
        return ""
    try:
        return format_money(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


@register.filter
def rejection_reason(request_row) -> str:
    """Why a refill or cancel was rejected, for the customer: the provider's words as it gave them (ours, in
    their language, where the words are ours). Empty unless rejected: other notes on a request are internal."""
    if getattr(request_row, "status", "") != "Rejected":
        return ""
    error = (request_row.error or "").strip()
    return gettext(error) if error else gettext("The provider did not accept the request.")


@register.filter
def status_class(value) -> str:
    """CSS modifier for a status badge: "In progress" -> "in-progress"."""
    return slugify(str(value or ""))


@register.simple_tag
def currency() -> str:
    return settings.PANEL_CURRENCY


@register.simple_tag
def panel_name() -> str:
    return settings.PANEL_NAME


@register.filter
def ticks(value) -> str:
    """Escape `value` and show `quoted` words (as the types table writes field names) as code."""
    escaped = conditional_escape(str(value or ""))
    # safe: the text was escaped just above; only the <code> tags are added
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


@register.filter
def plain_number(value) -> str:
    """A decimal without trailing zeros and never in exponent form: 2.50 -> "2.5", 10.00 -> "10"."""
    if value in (None, ""):
        return ""
    return f"{Decimal(value).normalize():f}"
