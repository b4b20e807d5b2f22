"""Reading a drip-feed's child order ids from a status answer, in the shapes panels send."""

from __future__ import annotations

import pytest

from providers.client_answers import child_order_ids, parse_order_status


@pytest.mark.parametrize(("orders", "expected"), [
    ([1002, "1003", " ab7 "], ["1002", "1003", "ab7"]),
    ("1002,1003", ["1002", "1003"]),
    ([], []),
    (None, None),
    ({"1": 2}, None),
])
def test_child_order_ids(orders, expected):
    item = {"status": "In progress", "runs": "2", "remains": "100"}
    if orders is not None:
        item["orders"] = orders
    status = parse_order_status(item)
    assert child_order_ids(status) == expected
    assert status.runs_done == 2


def test_subscription_status_answer_is_read():
    status = parse_order_status({"status": "active", "posts": "3", "charge": "1.20", "expiry": "31/12/2026"})
    assert (status.status, status.posts_done, status.remains) == ("Active", 3, None)
