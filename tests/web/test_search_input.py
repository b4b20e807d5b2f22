"""The search box of the customer's orders and services pages takes any text without failing."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ODD_SEARCHES = [
    "²",  # passes str.isdigit(), fails int()
    "#²",
    "١٢",  # Arabic-Indic digits
    "\x00",  # PostgreSQL refuses a NUL in a query
    "a\x00b",
    "9" * 19,  # more than a bigint holds
    "9" * 5000,  # more digits than int() converts
]


@pytest.mark.parametrize("search", ODD_SEARCHES)
@pytest.mark.parametrize("page", ["orders", "services"])
def test_an_odd_search_is_answered_with_the_page(customer_client, customer, default_service, make_order, page,
                                                  search):
    # given
    make_order(customer=customer, service=default_service, link="https://instagram.com/p/findme")
    listed = "p/findme" if page == "orders" else default_service.name

    # when
    response = customer_client.get(reverse(page), {"q": search})

    # then: nothing matches, and the page says so rather than failing
    assert response.status_code == 200
    assert listed not in response.content.decode()


def test_an_order_is_still_found_by_its_id_or_link(customer_client, customer, default_service, make_order):
    # given
    wanted = make_order(customer=customer, service=default_service, link="https://instagram.com/p/wanted")
    other = make_order(customer=customer, service=default_service, link="https://instagram.com/p/other")

    # when
    pages = {search: customer_client.get(reverse("orders"), {"q": search}).content.decode()
             for search in (str(wanted.pk), f"#{wanted.pk}", "p/wanted")}

    # then
    for page in pages.values():
        assert "p/wanted" in page
        assert "p/other" not in page
    assert other.pk != wanted.pk


def test_a_service_is_still_found_by_its_id_or_name(customer_client, default_service, comments_service):
    # when
    by_id = customer_client.get(reverse("services"), {"q": str(comments_service.pk)}).content.decode()
    by_name = customer_client.get(reverse("services"), {"q": "Followers"}).content.decode()

    # then
    assert comments_service.name in by_id and default_service.name not in by_id
    assert default_service.name in by_name and comments_service.name not in by_name
