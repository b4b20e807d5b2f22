"""The admin home's panel of unknown orders per provider (templates/admin/index.html)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from orders import reports
from orders.models import Stage

register = template.Library()


@register.inclusion_tag("admin/orders/unknown_by_provider.html", takes_context=True)
def unknown_orders_panel(context) -> dict:
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.has_perm("orders.view_order"):
        return {"rows": None}
    changelist = reverse("admin:orders_order_changelist")
    rows = reports.unknown_orders_by_provider()
    for row in rows:
        row["url"] = f"{changelist}?{urlencode({'stage': Stage.UNKNOWN, 'provider__id__exact': row['provider_id']})}"
    return {"rows": rows, "all_url": f"{changelist}?{urlencode({'stage': Stage.UNKNOWN})}",
            "total": sum(row["count"] for row in rows)}
