"""Small display helpers for the customer pages."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.text import slugify

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount with at least 2 and at most 5 decimals, trailing zeros dropped: 12.50, 0.0012."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{amount:,.5f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


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
