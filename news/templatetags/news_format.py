"""Display helpers for what the news app adds to the customer pages."""

from __future__ import annotations

from django import template

from news.speed import average_time_text

register = template.Library()


@register.filter
def average_time(service) -> str:
    """The service's average time per 1000 in words, or "Not enough data"."""
    return average_time_text(service)
