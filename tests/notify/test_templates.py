"""Every kind renders, in English and Indonesian, plain text and HTML, with the panel's name."""

from __future__ import annotations

import pytest
from django.utils import translation

from notify.kinds import CUSTOMER_KINDS, STAFF_KINDS
from notify.models import SentMail
from notify.sending import render_mail
from panel.templatetags.web_format import money
from tests.notify.conftest import PANEL

CHANGES = [
    {"service_id": 5, "service_name": "IG Followers", "category": "Instagram", "kind": "price_up",
     "old_rate": "1.2", "new_rate": "1.5"},
    {"service_id": 6, "service_name": "TT Views", "category": "TikTok", "kind": "added", "old_rate": "",
     "new_rate": "0.3"},
]
CONTEXTS = {
    "deposit_credited": {"deposit_id": 3, "amount": "25.00000", "currency": "USD", "balance": "30.00000"},
    "order_refunded": {"order_id": 9, "status": "Partial", "service_name": "IG Likes", "refund": "0.48",
                       "currency": "USD"},
    "refill_rejected": {"order_id": 9, "refill_id": 2, "reason": "Refill period is over"},
    "ticket_answered": {"ticket_id": 4, "subject": "Order", "message": "It is done."},
    "service_updates": {"changes": CHANGES, "since": "2026-11-23", "until": "2026-11-29"},
    "ticket_new": {"ticket_id": 4, "subject": "Payment", "customer": "alice", "message": "Paid twice?",
                   "order_ids": [7, 8]},
    "provider_balance_low": {"provider_id": 1, "provider": "Upstream A", "balance": "3.5", "threshold": "50",
                             "currency": "USD"},
    "attention_digest": {"orders": [{"order_id": 7, "provider": "Upstream A", "stage": "Unknown outcome",
                                     "attention": "Check the provider"}], "count": 3},
}
# Kinds whose templates other parts of the panel bring along are rendered by their own tests.
OURS = sorted(set(CONTEXTS))


def test_every_kind_has_a_sample_here():
    assert set(CONTEXTS) >= (set(CUSTOMER_KINDS) - {"webhook_disabled"}) | STAFF_KINDS


@pytest.mark.parametrize("kind", OURS)
@pytest.mark.parametrize("language", ["en", "id"])
def test_each_kind_renders_in_each_language(kind, language):
    row = SentMail(kind=kind, language=language, context=CONTEXTS[kind])

    subject, text, html = render_mail(row)

    assert PANEL in subject and "\n" not in subject
    assert PANEL in text and PANEL in html
    assert html.lstrip().startswith("<!doctype html>") and f'lang="{language}"' in html
    assert "{{" not in text + html and "{%" not in text + html


@pytest.mark.parametrize("kind", sorted(set(CUSTOMER_KINDS) & set(CONTEXTS)))
def test_customer_mails_read_differently_in_indonesian(kind):
    english = render_mail(SentMail(kind=kind, language="en", context=CONTEXTS[kind]))
    indonesian = render_mail(SentMail(kind=kind, language="id", context=CONTEXTS[kind]))
    assert english[0] != indonesian[0] and english[1] != indonesian[1]
    assert "Halo," in indonesian[1] and "Hello," in english[1]


def test_the_service_updates_mail_lists_each_change_with_old_and_new_price():
    _subject, text, html = render_mail(SentMail(kind="service_updates", language="en",
                                                context=CONTEXTS["service_updates"]))
    with translation.override("en"):
        old, new, added = money("1.2"), money("1.5"), money("0.3")
    assert f"#5 IG Followers (Instagram): Price up {old} -> {new}" in text
    assert f"#6 TT Views (TikTok): New service - -> {added}" in text
    assert "https://panel.test/updates/" in text and "Price up" in html


def test_the_ticket_subject_is_shown_in_the_readers_language():
    subject, text, _html = render_mail(SentMail(kind="ticket_answered", language="id",
                                                context=CONTEXTS["ticket_answered"]))
    assert "(Pesanan)" in subject and "It is done." in text


def test_the_digest_says_how_many_more_wait():
    _subject, text, html = render_mail(SentMail(kind="attention_digest", language="en",
                                                context=CONTEXTS["attention_digest"]))
    assert "1 of 3 are listed" in text and "1 of 3 are listed" in html
    assert "https://panel.test/admin/orders/order/7/change/" in text
