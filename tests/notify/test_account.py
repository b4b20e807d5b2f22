"""The Account page's mail choices, and the language mails are written in."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from notify.kinds import CUSTOMER_KINDS
from notify.models import MailPreference, SentMail
from notify.preferences import customer_ids_opted_in, preferences_for
from notify.services import notify_customer
from tests.factories import CustomerFactory
from tests.notify.conftest import PANEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer.user)
    return client


def _choices(**overrides) -> dict:
    data = {"action": "mail", "language": "en"}
    data.update({f"mail_{name}": "on" for name, kind in CUSTOMER_KINDS.items() if not kind.opt_in})
    for name, on in overrides.items():
        if on:
            data[f"mail_{name}"] = "on"
        else:
            data.pop(f"mail_{name}", None)
    return data


def test_the_page_offers_each_kind_but_not_security_mails(customer_client):
    response = customer_client.get(reverse("account"))
    html = response.content.decode()
    assert response.status_code == 200
    for name in CUSTOMER_KINDS:
        assert f'name="mail_{name}"' in html
    assert "password_reset" not in html and "always sent" in html
    # Defaults: on, except the opt-in weekly digest.
    assert 'id="id_mail_deposit_credited" checked>' in html
    assert 'id="id_mail_service_updates">' in html


def test_turning_a_kind_off_stops_its_mail(customer_client, customer):
    # when: refunds off, the weekly digest on, mails in Indonesian
    response = customer_client.post(reverse("account"), _choices(order_refunded=False, service_updates=True) | {
        "language": "id"})

    # then
    assert response.status_code == 302
    wanted, language = preferences_for(customer_id=customer.pk)
    assert language == "id" and not wanted["order_refunded"] and wanted["service_updates"]
    assert customer_ids_opted_in("service_updates") == {customer.pk}
    notify_customer(kind="order_refunded", event_key="order_refunded:1:partial", customer_id=customer.pk,
                    context={})
    notify_customer(kind="deposit_credited", event_key="deposit_credited:1", customer_id=customer.pk, context={})
    states = dict(SentMail.objects.values_list("kind", "state"))
    assert states == {"order_refunded": SentMail.State.SKIPPED, "deposit_credited": SentMail.State.QUEUED}
    assert SentMail.objects.get(kind="deposit_credited").language == "id"


def test_a_bad_language_is_a_form_error_and_nothing_is_saved(customer_client, customer):
    response = customer_client.post(reverse("account"), _choices() | {"language": "xx"})
    assert response.status_code == 200 and "language" in response.context["mail_form"].errors
    assert not MailPreference.objects.filter(customer=customer).exists()


def test_the_page_reads_the_choices_in_one_query(customer_client, customer, django_assert_max_num_queries):
    customer_client.post(reverse("account"), _choices(refill_rejected=False))
    customer_client.get(reverse("account"))
    with django_assert_max_num_queries(12) as captured:
        customer_client.get(reverse("account"))
    assert sum("notify_mailpreference" in q["sql"] for q in captured.captured_queries) == 1


def test_signing_up_in_indonesian_makes_indonesian_mails(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    response = client.post(reverse("signup"), {"username": "budi", "email": "budi@example.com",
                                                "password1": "Very-secret-42", "password2": "Very-secret-42"})
    assert response.status_code == 302
    preference = MailPreference.objects.get(customer__user__username="budi")
    assert preference.language == "id" and preference.flags == {}


def test_a_later_sign_in_keeps_the_language_chosen_on_the_account_page(client, customer):
    customer_client = client
    customer_client.force_login(customer.user)
    customer_client.post(reverse("account"), _choices() | {"language": "en"})
    customer_client.logout()
    customer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    customer_client.post(reverse("login"), {"username": customer.user.username, "password": "correct-horse-battery"})
    assert MailPreference.objects.get(customer=customer).language == "en"


def test_the_password_reset_mail_has_both_parts_with_the_panel_name(client, customer):
    response = client.post(reverse("password_reset"), {"email": customer.user.email})

    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.subject == f"{PANEL}: Reset your password" and PANEL in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html" and PANEL in html and "/password-reset/" in html
