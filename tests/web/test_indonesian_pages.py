"""The main flows read in Indonesian: every page a customer sees, the order form's messages (the server's own,
shown next to the field), the live quote's refusals, the mass order's results. The API keeps its English errors,
which v2 clients parse."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from accounts.models import Customer
from orders.models import Refill, RequestStage, RequestStatus
from tests.web.shop import open_shop

pytestmark = pytest.mark.django_db

# Phrases that only an untranslated page shows (the developer's words included).
ENGLISH = (
    "Quantity less than minimal", "Quantity more than maximal", "Welcome back", "Welcome,", "runs deliveries",
    "separated by", "e_wallet", "Missing ", "Incorrect ", "Needed quantity", "Link to page", "Not enough funds",
    "Place order", "Your API key", "Copy it now", "Use the format", "needs more than a link", "No answer for",
    "Two-factor sign-in", "Log out", "Add funds", "Refills and cancellations", "Price per 1000", "Dashboard",
    "Transactions", "One comment per line", "The address of the post", "For example, with services",
    "did not accept", "Drip-feed: ", "Balance after", "Your deposits", "Your payment requests", "Sign up",
    "Create your account", "Password again", "This field is required", "Close the menu",
)


def _english_in(html: str) -> list[str]:
    # Text only: attribute values and scripts aside, what a person reads.
    text = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S)
    return [phrase for phrase in ENGLISH if phrase in text]


@pytest.fixture
def reader(client):
    client.cookies["django_language"] = "id"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    return client


def _read(client, url, method="get", **data) -> str:
    response = getattr(client, method)(url, data, follow=True)
    assert response.status_code in (200, 400), url
    html = response.content.decode()
    assert '<html lang="id">' in html, url
    return html


def test_signing_up_and_every_customer_page_read_in_indonesian(reader):
    # given: the sign-up and sign-in pages
    for url in (reverse("signup"), reverse("login")):
        assert _english_in(_read(reader, url)) == [], url
    refused = _read(reader, reverse("signup"), "post", username="dewi", email="dewi@example.com", password1="x",
                    password2="y")
    assert _english_in(refused) == []

    # when: a new customer signs up
    first = _read(reader, reverse("signup"), "post", username="dewi", email="dewi@example.com",
                  password1="Sunny-garden-42", password2="Sunny-garden-42")

    # then: greeted as new (not "welcome back"), with the API key shown once, all in Indonesian
    assert "Selamat datang, dewi" in first and 'id="new-api-key"' in first
    assert _english_in(first) == []


def test_the_panel_pages_of_a_customer_with_history_read_in_indonesian(reader):
    shop = open_shop()
    Refill.objects.create(order=shop.completed, status=RequestStatus.REJECTED, stage=RequestStage.FAILED,
                          error="No answer for this order")
    reader.force_login(shop.customer.user)
    pages = {
        "dashboard": reverse("dashboard"), "services": reverse("services"), "orders": reverse("orders"),
        "order": reverse("order_detail", args=[shop.completed.pk]), "refills": reverse("refills"),
        "funds": reverse("funds"), "transactions": reverse("transactions"), "api": reverse("api_access"),
        "account": reverse("account"), "security": reverse("security"), "mass": reverse("order_mass"),
        "new order": reverse("order_new"),
        "default form": f"{reverse('order_new')}?service={shop.followers.pk}",
        "comments form": f"{reverse('order_new')}?service={shop.comments.pk}",
        "mentions form": f"{reverse('order_new')}?service={shop.mentions.pk}",
    }
    for name, url in pages.items():
        assert _english_in(_read(reader, url)) == [], name
    transactions = _read(reader, reverse("transactions"))
    assert "e_wallet" not in transactions and "OVO-123456" in transactions
    assert "Tidak ada jawaban untuk pesanan ini" in _read(reader, reverse("refills"))


def test_the_order_form_says_what_is_wrong_in_indonesian(reader):
    shop = open_shop()
    reader.force_login(shop.customer.user)

    # when: too few, a link that is not one, a missing list
    too_few = _read(reader, reverse("order_new"), "post", service=shop.followers.pk,
                    link="https://instagram.com/p/x", quantity="5")
    bad_link = _read(reader, reverse("order_new"), "post", service=shop.followers.pk, link="instagram",
                     quantity="100")
    no_comments = _read(reader, reverse("order_new"), "post", service=shop.comments.pk,
                        link="https://instagram.com/p/x", comments="")
    too_dear = _read(reader, reverse("order_new"), "post", service=shop.views.pk,
                     link="https://youtube.com/watch?v=x", quantity="1000000")

    # then
    assert "Jumlah kurang dari minimum 50" in too_few
    assert "Tautan tidak benar: harus berupa URL http(s)" in bad_link
    assert "Komentar wajib diisi" in no_comments
    assert "Saldo tidak mencukupi: pesanan ini seharga 1.234,5000" in too_dear
    for page in (too_few, bad_link, no_comments, too_dear):
        assert _english_in(page) == []

    # and the live quote's refusal, which the page shows as it is
    answer = reader.get(reverse("order_quote"), {"service": shop.followers.pk, "quantity": "5"}).json()
    assert answer == {"error": "Jumlah kurang dari minimum 50"}

    # and the mass order's results, line by line
    text = (f"{shop.followers.pk} | https://instagram.com/p/1 | 5\n"
            f"{shop.comments.pk} | https://instagram.com/p/2 | 10\n"
            "not a line\n")
    results = _read(reader, reverse("order_mass"), "post", orders=text)
    assert "Jumlah kurang dari minimum 50" in results and "Gunakan format" in results
    assert f"Layanan {shop.comments.pk} memerlukan lebih dari tautan dan jumlah" in results
    assert _english_in(results) == []


def test_the_api_keeps_its_english_errors_whatever_the_language(client):
    shop = open_shop()
    answer = client.post("/api/v2", {"key": shop.customer.raw_api_key, "action": "add",
                                     "service": shop.followers.pk, "link": "https://instagram.com/p/x",
                                     "quantity": "5"}, HTTP_ACCEPT_LANGUAGE="id")
    assert json.loads(answer.content) == {"error": "Quantity less than minimal 50"}
    answer = client.post("/api/v2", {"key": shop.customer.raw_api_key, "action": "add",
                                     "service": shop.comments.pk, "link": "https://instagram.com/p/x"},
                         HTTP_ACCEPT_LANGUAGE="id", HTTP_COOKIE="django_language=id")
    assert json.loads(answer.content) == {"error": "Missing comments"}
    assert Customer.objects.get(pk=shop.customer.pk).balance == shop.customer.balance  # nothing charged
