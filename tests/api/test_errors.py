"""Every refusal of /api/v2 in the words clients parse; a refusal charges and stores nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from orders.models import CancelRequest, Order, Refill, RequestStage, Stage, Status
from tests.factories import CustomerFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _nothing_stored(customer, balance: str) -> None:
    customer.refresh_from_db()
    assert customer.balance == Decimal(balance)
    assert not Order.objects.exists()
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).count() == 0


@pytest.mark.parametrize("key", ["", "nope", "0123456789abcdef0123456789abcdef", "x" * 500])
def test_wrong_or_missing_key(api, key):
    # given
    CustomerFactory()

    # when / then
    assert api(key, "balance") == {"error": "Invalid API key"}


def test_inactive_customer_is_refused(api):
    # given
    customer = CustomerFactory(is_active=False)

    # when / then
    assert api(customer.raw_api_key, "balance") == {"error": "Invalid API key"}


def test_disabled_user_is_refused(api):
    # given
    customer = CustomerFactory(user__is_active=False)

    # when / then
    assert api(customer.raw_api_key, "balance") == {"error": "Invalid API key"}


@pytest.mark.parametrize("action", ["", "nothing", "delete"])
def test_unknown_or_missing_action(api, action):
    # given
    customer = CustomerFactory()

    # when / then
    assert api(customer.raw_api_key, action) == {"error": "Incorrect request"}


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("status", {}),
        ("status", {"order": "abc"}),
        ("status", {"order": "-1"}),
        ("status", {"order": "99999999999999999999999"}),
        ("status", {"orders": "1,x,3"}),
        ("status", {"orders": ",".join(str(i) for i in range(1, 102))}),
        ("refill", {"orders": "1;2"}),
        ("refill", {}),
        ("refill_status", {"refills": "one"}),
        ("refill_status", {}),
        ("cancel", {"orders": ",".join(str(i) for i in range(1, 102))}),
        ("cancel", {"cancels": "1,2,z"}),
        ("cancel", {}),
    ],
)
def test_malformed_or_too_many_ids(api, action, params):
    # given
    customer = CustomerFactory()

    # when / then
    assert api(customer.raw_api_key, action, **params) == {"error": "Incorrect request"}


def test_a_hundred_ids_are_accepted(api):
    # given
    customer = CustomerFactory()

    # when
    answer = api(customer.raw_api_key, "status", orders=",".join(str(i) for i in range(1, 101)))

    # then
    assert len(answer) == 100
    assert all(value == {"error": "Incorrect order ID"} for value in answer.values())


@pytest.mark.parametrize("service", ["", "abc", "999999", "inactive", "provider-off"])
def test_add_incorrect_service(api, service):
    # given
    customer = CustomerFactory(funds="10")
    if service == "inactive":
        service = ServiceFactory(is_active=False).pk
    elif service == "provider-off":
        service = ServiceFactory(provider__is_active=False).pk

    # when
    answer = api(customer.raw_api_key, "add", service=service, link="https://x.com/a", quantity=100)

    # then
    assert answer == {"error": "Incorrect service ID"}
    _nothing_stored(customer, "10")


@pytest.mark.parametrize(
    ("quantity", "error"),
    [("9", "Quantity less than minimal 10"), ("10001", "Quantity more than maximal 10000")],
)
def test_add_quantity_out_of_limits(api, quantity, error):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(min=10, max=10000)

    # when / then
    assert api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=quantity) == {
        "error": error}
    _nothing_stored(customer, "10")


def test_add_list_type_with_too_few_lines(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(type="Custom Comments", min=5, max=100)

    # when / then
    assert api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", comments="a\nb") == {
        "error": "Quantity less than minimal 5"}


def test_add_not_enough_funds(api):
    # given
    customer = CustomerFactory(funds="0.5")
    service = ServiceFactory(rate=Decimal("1"))

    # when / then
    assert api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=501) == {
        "error": "Not enough funds on balance"}
    _nothing_stored(customer, "0.5")


def test_add_subscription_with_a_bad_delay_is_refused_and_nothing_stored(api):
    # given
    customer = CustomerFactory(funds="100")
    service = ServiceFactory(type="Subscriptions", min=10, max=1000)

    # when
    answer = api(customer.raw_api_key, "add", service=service.pk, username="someone", min=10, max=20, delay=7,
                 posts=5)

    # then
    assert answer["error"].startswith("Incorrect delay: must be one of 0, 5")
    _nothing_stored(customer, "100")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"quantity": 100}, "Missing link"),
        ({"link": "ftp://x.com/a", "quantity": 100}, "Incorrect link: must be an http(s) URL"),
        ({"link": "https://x.com/" + "a" * 2000, "quantity": 100}, "Incorrect link: longer than 2000 characters"),
        ({"link": "https://x.com/a"}, "Missing quantity"),
        ({"link": "https://x.com/a", "quantity": "ten"}, "Incorrect quantity: must be a whole number"),
        ({"link": "https://x.com/a", "quantity": 100, "runs": 3, "interval": 10},
         "Drip-feed is not available for this service"),
    ],
)
def test_add_bad_fields_name_the_field(api, params, error):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(dripfeed=False)

    # when / then
    assert api(customer.raw_api_key, "add", service=service.pk, **params) == {"error": error}
    _nothing_stored(customer, "10")


def test_another_customers_order_is_an_incorrect_order_id(api):
    # given
    owner, other = CustomerFactory(funds="10"), CustomerFactory(funds="10")
    service = ServiceFactory(refill=True, cancel=True)
    order_id = api(owner.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100)["order"]
    Order.objects.filter(pk=order_id).update(status=Status.COMPLETED, upstream_id="u1", stage=Stage.SENT)
    refill = Refill.objects.create(order_id=order_id, stage=RequestStage.FINAL)
    cancel = CancelRequest.objects.create(order_id=order_id, stage=RequestStage.FINAL)

    # when / then: the same answers as for ids that do not exist at all
    key = other.raw_api_key
    assert api(key, "status", order=order_id) == {"error": "Incorrect order ID"}
    assert api(key, "status", orders=str(order_id)) == {str(order_id): {"error": "Incorrect order ID"}}
    assert api(key, "refill", order=order_id) == {"error": "Incorrect order ID"}
    assert api(key, "cancel", orders=str(order_id)) == [{"order": order_id, "cancel": {"error": "Incorrect order ID"}}]
    assert api(key, "cancel", order=order_id) == {"error": "Incorrect order ID"}
    assert api(key, "refill_status", refill=refill.pk) == {"error": "Refill not found"}
    assert api(key, "refill_status", refills=str(refill.pk)) == [
        {"refill": refill.pk, "status": {"error": "Refill not found"}}]
    assert api(key, "cancel", cancels=str(cancel.pk)) == [
        {"cancel": cancel.pk, "status": {"error": "Cancel not found"}}]
    assert Refill.objects.count() == 1
    assert CancelRequest.objects.count() == 1


def test_a_successful_answer_never_carries_an_error_key(api):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory()

    # when
    answers = [
        api(customer.raw_api_key, "add", service=service.pk, link="https://x.com/a", quantity=100),
        api(customer.raw_api_key, "balance"),
        *api(customer.raw_api_key, "services"),
    ]
    answers.append(api(customer.raw_api_key, "status", order=answers[0]["order"]))

    # then
    assert all("error" not in answer for answer in answers)
