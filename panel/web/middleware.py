"""Show times in the signed-in customer's own time zone."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone


class CustomerTimezoneMiddleware:
    """Activate Customer.timezone for the request (UTC for visitors and users without a customer)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # A user without a customer (an admin) raises RelatedObjectDoesNotExist, an AttributeError.
            customer = getattr(user, "customer", None)
            if customer is not None and customer.timezone:
                try:
                    zone = zoneinfo.ZoneInfo(customer.timezone)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    zone = None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
