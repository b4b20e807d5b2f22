"""Every action of /api/v2, each in the three encodings (form POST, JSON POST, GET)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Order, Refill, RequestStage, Stage, Status
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _sent_order(customer, service, **fields) -> Order:
    """An order as it looks once the pipeline has sent it upstream."""
    from orders.services import order_create

    order = order_create(customer=customer, service=service, data={"link": "https://example.com/p", "quantity": 100})
    Order.objects.filter(pk=order.pk).update(upstream_id=f"u{order.pk}", stage=Stage.SENT, **fields)
    order.refresh_from_db()
    return order


def test_services_lists_active_services_at_the_customers_price(api):
    # given
    customer = CustomerFactory(discount_percent=Decimal("10"))
    shown = ServiceFactory(rate=Decimal("1.20000"), min=50, max=10000, refill=True, cancel=False, dripfeed=True,
                           name="Followers", category__name="First Category")
    ServiceFactory(is_active=False)
    ServiceFactory(provider__is_active=False)

    # when
    answer = api(customer.raw_api_key, "services")

    # then
    assert answer == [{
        "service": shown.pk, "name": "Followers", "type": "Default", "category": "First Category",
        "rate": "1.08", "min": "50", "max": "10000", "refill": True, "cancel": False, "dripfeed": True,
    }]


def test_services_rate_is_plain_decimal_without_exponent(api):
    # given
    customer = CustomerFactory()
    ServiceFactory(rate=Decimal("0.00001"))
    ServiceFactory(rate=Decimal("900000"))

    # when
    rates = [row["rate"] for row in api(customer.raw_api_key, "services")]

    # then
    assert sorted(rates) == ["0.00001", "900000.00"]


def test_add_charges_and_answers_our_order_id(api, django_capture_on_commit_callbacks):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("1.20"))

    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = api(customer.raw_api_key, "add", service=service.pk, link="https://instagram.com/p/x", quantity=500)

    # then
    order = Order.objects.get()
    assert answer == {"order": order.pk}
    assert (order.customer_id, order.quantity, order.charge, order.link) == (
        customer.pk, 500, Decimal("0.6"), "https://instagram.com/p/x")
    customer.refresh_from_db()
    assert customer.balance == Decimal("9.4")
    assert len(callbacks) == 1  # the sending task is enqueued on commit


def test_add_drip_feed_charges_quantity_times_runs(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(rate=Decimal("2"), dripfeed=True)

    # when
    answer = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100, runs=5,
                 interval=30)

    # then
    order = Order.objects.get(pk=answer["order"])
    assert (order.runs, order.interval, order.charge) == (5, 30, Decimal("1"))


def test_add_list_type_counts_lines_as_quantity(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(type="Custom Comments", rate=Decimal("10"), min=1, max=100)

    # when
    answer = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a",
                 comments="nice\r\ngreat\n\nwow")

    # then
    order = Order.objects.get(pk=answer["order"])
    assert (order.quantity, order.comments, order.charge) == (3, "nice\ngreat\nwow", Decimal("0.03"))


def test_add_package_costs_the_rate_per_package(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(type="Package", rate=Decimal("3.5"), min=1, max=1)

    # when
    answer = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a")

    # then
    assert Order.objects.get(pk=answer["order"]).charge == Decimal("3.5")


def test_status_of_one_order(api, settings):
    # given
    settings.PANEL_CURRENCY = "EUR"
    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(rate=Decimal("2.78190")), status=Status.IN_PROGRESS,
                        start_count=3572, remains=57)

    # when
    answer = api(customer.raw_api_key, "status", order=order.pk)

    # then
    assert answer == {"charge": "0.27819", "start_count": "3572", "status": "In progress", "remains": "57",
                      "currency": "EUR"}


def test_status_before_the_provider_reports_anything(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(dripfeed=True)
    order_id = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100, runs=3,
                   interval=10)["order"]

    # when
    answer = api(customer.raw_api_key, "status", order=order_id)

    # then the whole quantity remains, the start count is unknown ("0"), and no runs are reported yet
    assert answer == {"charge": "0.36", "start_count": "0", "status": "Pending", "remains": "300", "currency": "USD"}


def test_status_of_a_drip_feed_order_carries_runs_done(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(dripfeed=True)
    order_id = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100, runs=3,
                   interval=10)["order"]
    Order.objects.filter(pk=order_id).update(status=Status.IN_PROGRESS, runs_done=2, remains=100)

    # when
    answer = api(customer.raw_api_key, "status", order=order_id)

    # then
    assert (answer["runs"], answer["remains"]) == ("2", "100")


def test_status_charge_is_net_of_refunds(api):
    # given a Partial order whose undelivered part was refunded
    from orders.charges import order_refund

    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(rate=Decimal("10")), status=Status.PARTIAL, remains=40)
    order_refund(order_id=order.pk, amount=Decimal("0.4"), cause=LedgerEntry.Cause.PARTIAL)

    # when
    answer = api(customer.raw_api_key, "status", order=order.pk)

    # then
    assert (answer["charge"], answer["status"], answer["remains"]) == ("0.60", "Partial", "40")


def test_status_of_many_orders_is_keyed_by_id(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory()
    first = _sent_order(customer, service, status=Status.COMPLETED, start_count=10, remains=0)
    second = _sent_order(customer, service, status=Status.IN_PROGRESS)

    # when
    answer = api(customer.raw_api_key, "status", orders=f"{first.pk},{second.pk},999999")

    # then
    assert list(answer) == [str(first.pk), str(second.pk), "999999"]
    assert answer[str(first.pk)]["status"] == "Completed"
    assert answer[str(first.pk)]["start_count"] == "10"
    assert answer[str(second.pk)]["status"] == "In progress"
    assert answer["999999"] == {"error": "Incorrect order ID"}


def test_refill_one_order(api):
    # given
    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(refill=True), status=Status.COMPLETED)

    # when
    answer = api(customer.raw_api_key, "refill", order=order.pk)

    # then
    refill = Refill.objects.get()
    assert answer == {"refill": str(refill.pk)}
    assert (refill.order_id, refill.stage) == (order.pk, RequestStage.REQUESTED)


def test_refill_many_orders_says_why_for_each_refused_one(api):
    # given
    customer = CustomerFactory(funds="10")
    completed = _sent_order(customer, ServiceFactory(refill=True), status=Status.COMPLETED)
    running = _sent_order(customer, ServiceFactory(refill=True), status=Status.IN_PROGRESS)
    no_refill = _sent_order(customer, ServiceFactory(refill=False), status=Status.COMPLETED)

    # when
    answer = api(customer.raw_api_key, "refill", orders=f"{completed.pk},{running.pk},{no_refill.pk},999999")

    # then
    refill = Refill.objects.get()
    assert answer == [
        {"order": completed.pk, "refill": refill.pk},
        {"order": running.pk, "refill": {"error": "Refill is available only for completed orders"}},
        {"order": no_refill.pk, "refill": {"error": "Refill is not available for this service"}},
        {"order": 999999, "refill": {"error": "Incorrect order ID"}},
    ]


def test_refill_twice_is_refused_while_the_first_is_open(api):
    # given
    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(refill=True), status=Status.PARTIAL)
    api(customer.raw_api_key, "refill", order=order.pk)

    # when
    answer = api(customer.raw_api_key, "refill", order=order.pk)

    # then
    assert answer == {"error": "A refill for this order is already in progress"}
    assert Refill.objects.count() == 1


def test_refill_status_one_and_many(api):
    # given
    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(refill=True), status=Status.COMPLETED)
    done = Refill.objects.create(order=order, status=Refill.Status.COMPLETED, stage=RequestStage.FINAL)
    pending = Refill.objects.create(order=order)

    # when
    one = api(customer.raw_api_key, "refill_status", refill=done.pk)
    many = api(customer.raw_api_key, "refill_status", refills=f"{done.pk},{pending.pk},999999")

    # then
    assert one == {"status": "Completed"}
    assert many == [
        {"refill": done.pk, "status": "Completed"},
        {"refill": pending.pk, "status": "Pending"},
        {"refill": 999999, "status": {"error": "Refill not found"}},
    ]


def test_cancel_many_orders(api):
    # given
    customer = CustomerFactory(funds="10")
    running = _sent_order(customer, ServiceFactory(cancel=True), status=Status.IN_PROGRESS)
    finished = _sent_order(customer, ServiceFactory(cancel=True), status=Status.COMPLETED)
    no_cancel = _sent_order(customer, ServiceFactory(cancel=False), status=Status.IN_PROGRESS)

    # when
    answer = api(customer.raw_api_key, "cancel", orders=f"{running.pk},{finished.pk},{no_cancel.pk},999999")

    # then
    cancel = CancelRequest.objects.get()
    assert cancel.order_id == running.pk
    assert answer == [
        {"order": running.pk, "type": "order", "cancel": cancel.pk},
        {"order": finished.pk, "cancel": {"error": "The order is already finished"}},
        {"order": no_cancel.pk, "cancel": {"error": "Cancel is not available for this service"}},
        {"order": 999999, "cancel": {"error": "Incorrect order ID"}},
    ]


def test_cancel_one_order_not_yet_sent_is_canceled_and_refunded_at_once(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(cancel=True, rate=Decimal("10"))
    order_id = api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100)["order"]

    # when
    answer = api(customer.raw_api_key, "cancel", order=order_id)

    # then
    cancel = CancelRequest.objects.get()
    assert answer == {"cancel": cancel.pk}
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.refunded) == (Status.CANCELED, Decimal("1"))
    customer.refresh_from_db()
    assert customer.balance == Decimal("10")
    assert api(customer.raw_api_key, "status", order=order_id)["charge"] == "0.00"


def test_cancel_twice_is_refused(api):
    # given
    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(cancel=True), status=Status.IN_PROGRESS)
    api(customer.raw_api_key, "cancel", orders=str(order.pk))

    # when
    answer = api(customer.raw_api_key, "cancel", orders=str(order.pk))

    # then
    assert answer == [{"order": order.pk, "cancel": {"error": "Cancellation request was sent earlier"}}]


def test_cancel_status_by_cancels(api):
    # given
    customer = CustomerFactory(funds="10")
    order = _sent_order(customer, ServiceFactory(cancel=True), status=Status.IN_PROGRESS)
    rejected = CancelRequest.objects.create(order=order, status=CancelRequest.Status.REJECTED,
                                            stage=RequestStage.FINAL)

    # when
    answer = api(customer.raw_api_key, "cancel", cancels=f"{rejected.pk},999999")

    # then
    assert answer == [
        {"cancel": rejected.pk, "status": "Rejected"},
        {"cancel": 999999, "status": {"error": "Cancel not found"}},
    ]


def test_balance(api, settings):
    # given
    settings.PANEL_CURRENCY = "IDR"
    customer = CustomerFactory(funds="100.84292")

    # when
    answer = api(customer.raw_api_key, "balance")

    # then
    assert answer == {"balance": "100.84292", "currency": "IDR"}


def test_balance_of_zero_and_whole_amounts_has_no_exponent(api):
    # given
    empty, whole = CustomerFactory(), CustomerFactory(funds="1000")

    # when / then
    assert api(empty.raw_api_key, "balance")["balance"] == "0.00"
    assert api(whole.raw_api_key, "balance")["balance"] == "1000.00"
