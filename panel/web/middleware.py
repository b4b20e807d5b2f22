"""Per-request middleware: the customer's time zone, the Content-Security-Policy, no caching of signed-in pages."""

from __future__ import annotations

import zoneinfo

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers


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


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), with inline styles allowed in the Django admin.

    Scripts stay 'self' everywhere. The admin's own templates write a <style> element on some change lists,
    and its list columns may carry a style attribute; the customer pages have neither.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(reverse("admin:index")):
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        return parts


class NoStoreForSignedInMiddleware:
    """No cache, the browser's or a proxy's, keeps an answer to a signed-in user.

    Every signed-in page shows the balance, and some show an API key or a two-factor secret; after sign-out
    the Back button or a shared proxy must not bring them back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
