"""The nav's count of tickets with an answer the customer has not seen."""

from __future__ import annotations

from django import template

from support.selectors import unread_tickets_count

register = template.Library()


@register.simple_tag(takes_context=True)
def support_unread(context) -> int:
    """One COUNT for a signed-in customer; 0 (no query) for anyone else."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return 0
    customer = getattr(user, "customer", None)  # a user without one (staff) raises an AttributeError subclass
    if customer is None:
        return 0
    return unread_tickets_count(customer_id=customer.pk)
