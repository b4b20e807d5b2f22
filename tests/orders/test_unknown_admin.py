"""Unknown orders in the admin: bulk actions on a filtered selection, the pasted list of upstream ids, the home."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from orders import lifecycle
from orders.models import Order, Stage
from tests.factories import CustomerFactory, OrderFactory, ProviderFactory, ServiceFactory
from tests.orders.pipeline_support import ledger_checked_after  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db


def _unknown(provider=None, count: int = 1) -> list[Order]:
    service = ServiceFactory(**({"provider": provider} if provider else {}))
    return [OrderFactory(service=service, customer=CustomerFactory(), stage=Stage.UNKNOWN,
                         attention=lifecycle.UNKNOWN_ATTENTION, sending_started_at=timezone.now())
            for _ in range(count)]


def _action(client, action: str, orders=(), *, across_filter: str = "", **data):
    """The change list's action, on chosen rows or (across_filter) on every row of a filtered list."""
    url = reverse("admin:orders_order_changelist") + across_filter
    chosen = {"select_across": "1", ACTION_CHECKBOX_NAME: ["0"]} if across_filter else {
        ACTION_CHECKBOX_NAME: [o.pk for o in orders]}
    return client.post(url, {"action": action, "index": "0", **chosen, **data}, follow=True)


def test_an_action_applies_to_every_order_of_a_filtered_list(admin_client, admin_user):
    # given: unknown orders at two providers; the list is filtered to one of them
    ours, theirs = ProviderFactory(), ProviderFactory()
    chosen = _unknown(ours, 3)
    others = _unknown(theirs, 2)

    # when: "select all" across the filtered list, then the reason
    page = _action(admin_client, "send_again", across_filter=f"?stage=unknown&provider__id__exact={ours.pk}",
                   apply="1", reason="the provider lost them")

    # then
    assert "3 order(s) queued to be sent again" in page.content.decode()
    assert set(Order.objects.filter(stage=Stage.PAID).values_list("pk", flat=True)) == {o.pk for o in chosen}
    assert all(Order.objects.get(pk=o.pk).stage == Stage.UNKNOWN for o in others)
    assert AuditEntry.objects.filter(action="order.send_again", actor=admin_user).count() == 3


def test_cancel_and_refund_in_bulk_from_the_list(admin_client):
    # given
    orders = _unknown(count=3)

    # when
    page = _action(admin_client, "cancel_and_refund", orders, apply="1", reason="given up")

    # then
    assert "3 order(s) canceled and refunded" in page.content.decode()
    assert all(o.refunded == o.charge for o in Order.objects.filter(pk__in=[o.pk for o in orders]))


def test_attach_upstream_ids_from_a_pasted_list(admin_client, admin_user):
    # given
    orders = _unknown(count=3)
    pasted = f"{orders[0].pk} up-100\n\n{orders[1].pk},up-101\r\n"

    # when: asked first, then applied
    form = _action(admin_client, "attach_upstream_ids", orders)
    page = _action(admin_client, "attach_upstream_ids", orders, apply="1", pairs=pasted, reason="from their export")

    # then
    assert form.status_code == 200 and 'name="pairs"' in form.content.decode()
    assert "2 order(s) sent with the upstream id given" in page.content.decode()
    rows = dict(Order.objects.filter(stage=Stage.SENT).values_list("pk", "upstream_id"))
    assert rows == {orders[0].pk: "up-100", orders[1].pk: "up-101"}
    entry = AuditEntry.objects.get(action="order.set_upstream_id", subject_id=orders[1].pk)
    assert (entry.actor, entry.reason, entry.changes["upstream_id"]) == (admin_user, "from their export",
                                                                       ["", "up-101"])


@pytest.mark.parametrize("pasted, message", [
    ("{a} up-1 extra", "Line 1: expected an order id and an upstream id"),
    ("x{a} up-1", "Line 1: expected an order id and an upstream id"),
    ("{a} up-1\n{a} up-2", "Line 2: order {a} appears twice."),
    ("{a} up-1\n{b} up-1", "Upstream id up-1 is given for orders {a} and {b} of one provider."),
    ("{outside} up-1", "Line 1: order {outside} is not among the chosen orders."),
    ("{a} taken-9", "Upstream id taken-9 is already order {holder}&#x27;s at that provider."),
    (",\n;", "Give at least one line."),
    ("   \n", "This field is required."),
    ("{a} " + "9" * 65, "Line 1: the upstream id is longer than 64 characters."),
])
def test_a_wrong_list_is_refused_line_by_line_and_changes_nothing(admin_client, pasted, message):
    # given: two chosen unknown orders at one provider; one outside the selection; one holding an upstream id
    a, b = _unknown(count=2)
    Order.objects.filter(pk=b.pk).update(provider=a.provider, service=a.service)
    outside = _unknown(a.provider)[0]
    holder = OrderFactory(service=a.service, stage=Stage.SENT, upstream_id="taken-9")
    values = {"a": a.pk, "b": b.pk, "outside": outside.pk, "holder": holder.pk}

    # when
    page = _action(admin_client, "attach_upstream_ids", [a, b], apply="1", pairs=pasted.format(**values),
                   reason="from their export")

    # then
    assert page.status_code == 200 and message.format(**values) in page.content.decode()
    assert Order.objects.filter(stage=Stage.UNKNOWN).count() == 3
    assert not AuditEntry.objects.exists()


def test_the_admin_home_counts_unknown_orders_per_provider_with_links(admin_client):
    # given
    busy, quiet = ProviderFactory(name="Busy panel"), ProviderFactory(name="Quiet panel")
    _unknown(busy, 3)
    ServiceFactory(provider=quiet)

    # when
    page = admin_client.get(reverse("admin:index")).content.decode()

    # then
    link = reverse("admin:orders_order_changelist") + f"?stage=unknown&amp;provider__id__exact={busy.pk}"
    assert "Unknown orders: 3" in page
    assert f'<a href="{link}">Busy panel</a>' in page and f'<a href="{link}">3</a>' in page
    assert "Quiet panel" not in page.split('id="unknown-orders"')[1].split("</table>")[0]


def test_the_admin_home_says_when_there_is_none(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "None: every order sent has an answer from its provider." in page
