"""What every customer page shares: the signed-in customer and pagination."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

PAGE_SIZE = 50


def customer_required(view):
    """Signed in and with a customer profile; the customer is `request.customer`.

    Staff accounts without one get a page saying so instead of a crash.
    """

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        # The middleware already loaded it for the time zone; the user object caches the relation.
        customer = getattr(request.user, "customer", None)
        if customer is None or not customer.is_active:
            return render(request, "web/no_customer.html", status=403)
        request.customer = customer
        return view(request, *args, **kwargs)

    return wrapper


def paginate(request, queryset, *, per_page: int = PAGE_SIZE):
    """The requested page of `queryset`: one COUNT and one slice, whatever its size."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def query_without_page(request) -> str:
    """The current query string without `page`, for pagination links that keep the filters."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default
