"""The admin home's overview (templates/admin/index.html): panel.admin_home reads, this renders."""

from __future__ import annotations

from django import template

from panel import admin_home

register = template.Library()


@register.inclusion_tag("admin/home/overview.html", takes_context=True)
def admin_home_overview(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"home": None}
    return {"home": admin_home.home_context(user=user)}
