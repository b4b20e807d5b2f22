"""The staff digest of orders needing attention: each order once, nothing when nothing is new."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notify.digests import attention_digest
from notify.models import SentMail
from notify.tasks import attention_digest_task
from orders.models import Order, Stage, Status
from tests.factories import OrderFactory
from tests.notify.conftest import STAFF

pytestmark = pytest.mark.django_db


def _digests() -> list[SentMail]:
    return list(SentMail.objects.filter(kind="attention_digest").order_by("id"))


def test_one_digest_lists_the_orders_needing_attention_then_only_what_is_new():
    # given: an unknown order, one with a note, and a healthy one
    unknown = OrderFactory(stage=Stage.UNKNOWN, attention="The add call's outcome is unknown")
    noted = OrderFactory(stage=Stage.SENT, status=Status.IN_PROGRESS, attention="Unknown status word 'Hold'")
    OrderFactory(stage=Stage.SENT, status=Status.IN_PROGRESS)
    now = timezone.now()

    # when: the digest runs twice
    assert attention_digest(now=now) == 2
    assert attention_digest(now=now + timedelta(minutes=30)) == 0

    # then: one mail to staff listing both
    (digest,) = _digests()
    assert digest.to_address == STAFF and digest.context["count"] == 2
    assert [o["order_id"] for o in digest.context["orders"]] == [unknown.pk, noted.pk]
    assert digest.context["orders"][1] == {"order_id": noted.pk, "provider": noted.provider.name,
                                           "stage": noted.get_stage_display(), "attention": noted.attention}

    # when: a new order needs attention
    newer = OrderFactory(stage=Stage.UNKNOWN, attention="The add call's outcome is unknown")
    assert attention_digest(now=now + timedelta(hours=1)) == 1

    # then: a second digest with only the new one
    assert [o["order_id"] for o in _digests()[1].context["orders"]] == [newer.pk]


def test_an_order_that_needs_attention_again_after_it_was_resolved_is_news():
    order = OrderFactory(stage=Stage.SENT, status=Status.IN_PROGRESS, attention="Unknown status word 'Hold'")
    now = timezone.now()
    assert attention_digest(now=now) == 1

    # resolved: the note goes, a digest runs; then the same note comes back
    Order.objects.filter(pk=order.pk).update(attention="")
    assert attention_digest(now=now + timedelta(minutes=30)) == 0
    Order.objects.filter(pk=order.pk).update(attention="Unknown status word 'Hold'")
    assert attention_digest(now=now + timedelta(hours=1)) == 1

    assert len(_digests()) == 2


def test_nothing_new_or_no_staff_address_sends_nothing(settings):
    assert attention_digest_task() == 0
    settings.SUPPORT_EMAIL = ""
    OrderFactory(stage=Stage.UNKNOWN)
    assert attention_digest_task() == 0
    assert not SentMail.objects.exists()


def test_the_digest_takes_the_same_queries_for_one_or_many_orders(django_assert_num_queries):
    OrderFactory(stage=Stage.UNKNOWN)
    with django_assert_num_queries(10) as one:
        attention_digest()
    for _ in range(15):
        OrderFactory(stage=Stage.SENT, status=Status.IN_PROGRESS, attention="Partial without a remains count")
    with django_assert_num_queries(len(one.captured_queries)):
        assert attention_digest() == 15


def test_a_long_list_is_cut_and_the_rest_comes_next_time(monkeypatch):
    monkeypatch.setattr("notify.digests.DIGEST_MAX_ORDERS", 3)
    orders = [OrderFactory(stage=Stage.UNKNOWN) for _ in range(5)]
    assert attention_digest() == 3
    assert attention_digest() == 2
    first, second = _digests()
    assert first.context["count"] == 5 and len(first.context["orders"]) == 3
    assert [o["order_id"] for o in second.context["orders"]] == [o.pk for o in orders[3:]]
