"""The customer admin page's activity panel (templates/admin/accounts/customer/change_form.html)."""

from __future__ import annotations

from django import template

from accounts.admin_customer import customer_activity

register = template.Library()


@register.inclusion_tag("admin/accounts/customer/activity.html", takes_context=True)
def customer_activity_panel(context, customer) -> dict:
    user = getattr(context.get("request"), "user", None)
    if customer is None or user is None:
        return {"activity": None}
    return {"activity": customer_activity(customer, user=user)}
