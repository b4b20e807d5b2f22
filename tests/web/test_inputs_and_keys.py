"""Inputs that say no instead of cutting, a mass-order example that can be placed as written, the API key shown
once after sign-up, and the reasons for rejected refills and cancels."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Customer, LedgerEntry
from orders.models import CancelRequest, Order, Refill, RequestStage, RequestStatus
from panel.web.mass import mass_order_example
from tests.factories import CategoryFactory, ServiceFactory
from tests.web.shop import CANCEL_REASON, REFILL_REASON, open_shop

pytestmark = pytest.mark.django_db

MAXLENGTH = re.compile(r'<(?:input|textarea)[^>]*\smaxlength="(\d+)"')


# --- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["order_new", "order_mass", "funds", "signup"])
def test_no_input_cuts_what_is_typed(client, url_name):
    shop = open_shop()
    if url_name != "signup":
        client.force_login(shop.customer.user)
    query = {"service": shop.comments.pk} if url_name == "order_new" else {}
    html = client.get(reverse(url_name), query).content.decode()
    assert MAXLENGTH.findall(html) == []


def test_a_5000_character_link_is_refused_next_to_the_field_not_cut(customer_client, customer, default_service):
    # given: a link far over the 2,000 characters an order keeps
    link = "https://instagram.com/p/" + "x" * 4976
    assert len(link) == 5000
    html = customer_client.get(reverse("order_new"), {"service": default_service.pk}).content.decode()
    assert 'name="link"' in html and not re.search(r'name="link"[^>]*maxlength', html)

    # when
    response = customer_client.post(reverse("order_new"), {"service": default_service.pk, "link": link,
                                                            "quantity": "100"})

    # then: the server's own message on the link field, and nothing placed or charged
    assert response.status_code == 200
    assert response.context["form"].errors["link"] == ["Incorrect link: longer than 2000 characters"]
    assert 'data-field-wrap="link"' in response.content.decode()
    assert not Order.objects.exists()
    customer.refresh_from_db()
    assert customer.balance == Decimal("100")


# --- the mass order's example ------------------------------------------------------------------


def test_the_mass_order_example_uses_services_a_mass_order_takes(customer_client, customer):
    # given: the services that need more than a link and a quantity come first in the list
    category = CategoryFactory(name="Instagram")
    ServiceFactory(category=category, type="Custom Comments", min=1, max=100)
    ServiceFactory(category=category, type="Mentions Custom List", min=1, max=100)
    ServiceFactory(category=category, is_active=False, min=10, max=100)  # not orderable
    likes = ServiceFactory(category=category, min=50, max=500, rate=Decimal("1.00"))
    views = ServiceFactory(category=category, min=2000, max=90000, rate=Decimal("0.10"))

    # when
    example = mass_order_example()
    html = customer_client.get(reverse("order_mass")).content.decode()

    # then: only the Default services, each at a quantity it accepts, on the page and as the box's placeholder
    assert example == [f"{likes.pk} | https://example.com/post/1 | 500",
                       f"{views.pk} | https://example.com/post/2 | 2000"]
    assert all(line in html for line in example)

    # and placed as written, every line goes through
    response = customer_client.post(reverse("order_mass"), {"orders": "\n".join(example)})
    assert [r.error for r in response.context["results"]] == ["", ""]
    assert Order.objects.filter(customer=customer).count() == 2


def test_a_mass_order_line_for_a_service_that_needs_more_is_refused_by_name(customer_client, customer):
    comments = ServiceFactory(type="Custom Comments", min=1, max=100)
    response = customer_client.post(reverse("order_mass"),
                                     {"orders": f"{comments.pk} | https://instagram.com/p/1 | 10"})
    [result] = response.context["results"]
    assert result.error == (f"Service {comments.pk} needs more than a link and a quantity: order it on the New "
                            "order page.")
    assert not Order.objects.exists()


def test_without_a_mass_orderable_service_there_is_no_example(customer_client):
    ServiceFactory(type="Custom Comments", min=1, max=100)
    assert mass_order_example() == []
    assert "data-example" not in customer_client.get(reverse("order_mass")).content.decode()


# --- the API key after sign-up ----------------------------------------------------------------


def test_the_api_key_is_shown_once_right_after_sign_up_and_works(client):
    # when: a new customer signs up
    response = client.post(reverse("signup"), {"username": "dewi", "email": "dewi@example.com",
                                               "password1": "Sunny-garden-42", "password2": "Sunny-garden-42"},
                           follow=True)

    # then: the dashboard greets a new customer and shows the key, once
    html = response.content.decode()
    assert "Welcome, dewi: your account is ready." in html and "Welcome back" not in html
    key = re.search(r'<code id="new-api-key">([0-9a-f]+)</code>', html).group(1)
    again = client.get(reverse("dashboard")).content.decode()
    assert key not in again and "Welcome back, dewi." in again
    assert key not in client.get(reverse("api_access")).content.decode()

    # and the key works on the API at once
    answer = client.post("/api/v2", {"key": key, "action": "balance"}).json()
    assert Decimal(answer["balance"]) == 0 and answer["currency"] == "USD"
    customer = Customer.objects.get(user__username="dewi")
    assert key.startswith(customer.api_key_prefix)


# --- why a refill or a cancel was rejected -----------------------------------------------------


def test_rejected_refills_and_cancels_show_their_reason(client):
    shop = open_shop()
    # a note on a request that was not rejected is internal: never shown
    Refill.objects.create(order=shop.pending, status=RequestStatus.PENDING, stage=RequestStage.SENT,
                          upstream_id="8", error="Unknown status word 'Wait'")
    client.force_login(shop.customer.user)

    refills = client.get(reverse("refills")).content.decode()
    assert REFILL_REASON in refills and "Unknown status word" not in refills
    detail = client.get(reverse("order_detail", args=[shop.in_progress.pk])).content.decode()
    assert CANCEL_REASON in detail
    assert REFILL_REASON in client.get(reverse("order_detail", args=[shop.completed.pk])).content.decode()


def test_a_rejection_without_words_says_so(client):
    shop = open_shop()
    CancelRequest.objects.filter(order=shop.in_progress).update(error="")
    client.force_login(shop.customer.user)
    detail = client.get(reverse("order_detail", args=[shop.in_progress.pk])).content.decode()
    assert "The provider did not accept the request." in detail


def test_a_refused_cancel_is_told_in_the_customers_language(client):
    shop = open_shop()
    client.force_login(shop.customer.user)
    client.cookies["django_language"] = "id"
    # the comments service has no cancel
    comments_order = Order.objects.get(customer=shop.customer, service=shop.comments)
    response = client.post(reverse("order_cancel", args=[comments_order.pk]), follow=True)
    assert "Pembatalan tidak tersedia untuk layanan ini" in response.content.decode()
    assert LedgerEntry.objects.filter(customer=shop.customer, kind="refund").count() == 0
