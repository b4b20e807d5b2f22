"""clean_order_input: every order type of the one types table, the limits, and the refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from orders.validation import MAX_INT, OrderInputError, clean_order_input
from providers.models import Service
from providers.ordertypes import ORDER_TYPES
from providers.pricing import customer_rate, discounted_rate

LINK = "https://instagram.com/p/abc"
TODAY = dt.date(2026, 6, 1)


def _service(type_: str = "Default", *, rate: str = "2", low: int = 10, high: int = 1000, dripfeed: bool = False):
    return Service(type=type_, rate=Decimal(rate), min=low, max=high, dripfeed=dripfeed)


# type -> (valid data, expected quantity, expected charged units)
VALID = {
    "Default": ({"link": LINK, "quantity": "100"}, 100, 100),
    "Package": ({"link": LINK}, 1, 1000),
    "Custom Comments": ({"link": LINK, "comments": "a\r\nb\n\nc" + "\nd" * 9}, 12, 12),
    "Custom Comments Package": ({"link": LINK, "comments": "a\nb"}, 1, 1000),
    "Mentions with Hashtags": ({"link": LINK, "quantity": "50", "usernames": "u1\nu2", "hashtags": "#a\n#b"}, 50, 50),
    "Mentions Custom List": ({"link": LINK, "usernames": "\n".join(f"u{i}" for i in range(15))}, 15, 15),
    "Mentions Hashtag": ({"link": LINK, "quantity": "20", "hashtag": "#cats"}, 20, 20),
    "Mentions User Followers": ({"link": LINK, "quantity": "20", "username": "someone"}, 20, 20),
    "Mentions Media Likers": ({"link": LINK, "quantity": "20", "media": "https://instagram.com/p/m"}, 20, 20),
    "Comment Likes": ({"link": LINK, "quantity": "30", "username": "owner"}, 30, 30),
    "Comment Replies": ({"link": LINK, "username": "owner", "comments": "\n".join("r" * 10)}, 10, 10),
    "Poll": ({"link": LINK, "quantity": "40", "answer_number": "2"}, 40, 40),
    "Invites from Groups": ({"link": LINK, "quantity": "25", "groups": "g1\ng2"}, 25, 25),
}


def test_every_non_subscription_type_has_a_case():
    assert set(VALID) == set(ORDER_TYPES) - {"Subscriptions"}


@pytest.mark.parametrize("type_", sorted(VALID))
def test_each_type_validates_and_prices(type_):
    # given
    data, quantity, units = VALID[type_]
    low, high = (1, 1) if ORDER_TYPES[type_].per_package else (10, 1000)

    # when
    cleaned = clean_order_input(service=_service(type_, rate="2", low=low, high=high), data=data)

    # then
    assert (cleaned.quantity, cleaned.units) == (quantity, units)
    assert cleaned.charge == Decimal(2) * units / 1000
    assert cleaned.values["link"] == LINK
    for name in ORDER_TYPES[type_].required:
        if name not in ("link", "quantity"):
            assert cleaned.values[name]


@pytest.mark.parametrize("type_", sorted(VALID))
def test_each_type_names_a_missing_required_field(type_):
    data, _, _ = VALID[type_]
    for name in ORDER_TYPES[type_].required:
        # given
        partial = {k: v for k, v in data.items() if k != name}

        # when / then
        with pytest.raises(OrderInputError) as error:
            clean_order_input(service=_service(type_, low=1, high=1000), data=partial)
        assert error.value.field == name
        assert error.value.message == f"Missing {name}"


def test_list_fields_are_stored_one_item_per_line():
    cleaned = clean_order_input(service=_service("Custom Comments", low=1), data={
        "link": LINK, "comments": " first \r\nsecond\r\n\r\n"})
    assert cleaned.values["comments"] == "first\nsecond"


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("9", "Quantity less than minimal 10"), ("1001", "Quantity more than maximal 1000")],
)
def test_quantity_limits(quantity, message):
    with pytest.raises(OrderInputError, match=f"^{message}$"):
        clean_order_input(service=_service(), data={"link": LINK, "quantity": quantity})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ten", "Incorrect quantity: must be a whole number"),
        ("1_000", "Incorrect quantity: must be a whole number"),
        ("١٢٣", "Incorrect quantity: must be a whole number"),
        ("10.5", "Incorrect quantity: must be a whole number"),
        ("0", "Incorrect quantity: must be at least 1"),
        ("-5", "Incorrect quantity: must be at least 1"),
        (str(MAX_INT + 1), f"Incorrect quantity: must be at most {MAX_INT}"),
    ],
)
def test_malformed_quantity(raw, message):
    with pytest.raises(OrderInputError) as error:
        clean_order_input(service=_service(), data={"link": LINK, "quantity": raw})
    assert (error.value.message, error.value.field) == (message, "quantity")


@pytest.mark.parametrize(
    "link",
    ["instagram.com/p/abc", "ftp://x.com/a", "javascript:alert(1)", "https://", "https://x.com/a b",
     "http://[::1/abc", "https://x.com/" + "a" * 2000],
)
def test_bad_links(link):
    with pytest.raises(OrderInputError) as error:
        clean_order_input(service=_service(), data={"link": link, "quantity": "100"})
    assert error.value.field == "link"
    assert error.value.message.startswith("Incorrect link")


def test_text_field_length_is_capped():
    with pytest.raises(OrderInputError, match="^Incorrect username: longer than 300 characters$"):
        clean_order_input(service=_service("Comment Likes"), data={
            "link": LINK, "quantity": "100", "username": "u" * 301})


def test_null_character_is_refused_with_the_fields_name():
    with pytest.raises(OrderInputError) as error:
        clean_order_input(service=_service("Comment Likes"), data={
            "link": LINK, "quantity": "100", "username": "bad\x00name"})
    assert error.value.field == "username"


def test_poll_answer_number_must_be_positive():
    with pytest.raises(OrderInputError, match="answer_number"):
        clean_order_input(service=_service("Poll"), data={"link": LINK, "quantity": "100", "answer_number": "x"})


def test_drip_feed_charges_quantity_times_runs():
    cleaned = clean_order_input(service=_service(dripfeed=True, rate="3"), data={
        "link": LINK, "quantity": "100", "runs": "4", "interval": "15"})
    assert (cleaned.quantity, cleaned.units, cleaned.charge) == (100, 400, Decimal("1.2"))
    assert (cleaned.values["runs"], cleaned.values["interval"]) == (4, 15)


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"runs": "3"}, "interval", "Drip-feed needs both runs and interval"),
        ({"interval": "3"}, "runs", "Drip-feed needs both runs and interval"),
        ({"runs": "1", "interval": "3"}, "runs", "Incorrect runs: must be from 2 to 1000"),
        ({"runs": "3", "interval": "0"}, "interval", "Incorrect interval: must be from 1 to 43200 minutes"),
    ],
)
def test_drip_feed_refusals(extra, field, message):
    with pytest.raises(OrderInputError) as error:
        clean_order_input(service=_service(dripfeed=True), data={"link": LINK, "quantity": "100", **extra})
    assert (error.value.field, error.value.message) == (field, message)


def test_drip_feed_only_where_the_service_allows_it():
    with pytest.raises(OrderInputError, match="^Drip-feed is not available for this service$"):
        clean_order_input(service=_service(dripfeed=False), data={
            "link": LINK, "quantity": "100", "runs": "3", "interval": "5"})


def test_zero_runs_and_interval_mean_a_plain_order():
    # Some clients always send the drip-feed fields, with 0 for a plain order.
    cleaned = clean_order_input(service=_service(dripfeed=False), data={
        "link": LINK, "quantity": "100", "runs": "0", "interval": "0"})
    assert cleaned.units == 100
    assert "runs" not in cleaned.values


def test_discount_lowers_the_rate_and_charge():
    cleaned = clean_order_input(service=_service(rate="1.20"), data={"link": LINK, "quantity": "1000"},
                                discount_percent=Decimal("12.5"))
    assert (cleaned.rate, cleaned.charge) == (Decimal("1.05"), Decimal("1.05"))
    assert customer_rate(service=_service(rate="1.20"), discount_percent=Decimal("0")) == Decimal("1.20")
    assert discounted_rate(rate=Decimal("0.00003"), discount_percent=Decimal("50")) == Decimal("0.00002")


def test_unknown_type_is_an_incorrect_service():
    with pytest.raises(OrderInputError, match="^Incorrect service ID$"):
        clean_order_input(service=_service("Nonsense"), data={"link": LINK, "quantity": "100"})


def test_subscription_with_posts_is_paid_up_front():
    cleaned = clean_order_input(service=_service("Subscriptions", rate="2"), data={
        "username": "someone", "min": "100", "max": "200", "delay": "30", "posts": "5", "expiry": "31/12/2026"},
        today=TODAY)
    assert (cleaned.quantity, cleaned.units, cleaned.charge) == (0, 1000, Decimal("2"))
    assert cleaned.values["sub_expiry"] == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delay": "7"}, "delay"),
        ({"min": "300"}, "min"),
        ({"expiry": "2026-12-31"}, "expiry"),
        ({"expiry": "01/01/2026"}, "expiry"),
        ({"posts": "0"}, "posts"),
        ({"max": "5000"}, "max"),
    ],
)
def test_subscription_refusals(changes, field):
    data = {"username": "someone", "min": "100", "max": "200", "delay": "30", **changes}
    with pytest.raises(OrderInputError) as error:
        clean_order_input(service=_service("Subscriptions"), data=data, today=TODAY)
    assert error.value.field == field
