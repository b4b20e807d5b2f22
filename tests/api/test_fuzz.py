"""A schemathesis fuzz of /api/v2 against a live server, driven by the API's own OpenAPI description.

Each example is a request generated from the description, some fitting it and some not, sent with the
test customer's key (now and then with the made-up one generated instead) and, where it names a
service, an order, a refill or a cancel, often with a real one, some of them another customer's.
Every answer must be JSON of a documented status and shape, never a 5xx, and of the shape of the
action asked for. A refused request leaves the customer's balance, ledger, orders, refills and
cancels as they were; nothing touches the other customer's. After the run `check_ledger` passes and
the balance plus what the customer's orders cost equals what it was at the start.

FUZZ_EXAMPLES (default 200) bounds the number of examples, FUZZ_SEED chooses another run of them.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import schemathesis
from django.core.management import call_command
from django.db.models import F, Sum
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Customer, LedgerEntry
from orders.models import CancelRequest, Order, Refill, Stage, Status
from orders.validation import MAX_INT
from panel.api.openapi import ANSWERS, API_PATH
from panel.env import env_int
from providers.ordertypes import DEFAULT, FIELDS, ORDER_TYPES
from tests.api.conftest import documented
from tests.factories import CustomerFactory, OrderFactory, ServiceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FUZZ_EXAMPLES = env_int("FUZZ_EXAMPLES", 200, minimum=1)
FUZZ_SEED = env_int("FUZZ_SEED", 0)
# Per example, generous for a loaded 2-core machine: a slow answer is a finding, a busy machine is not.
EXAMPLE_DEADLINE = timedelta(seconds=10)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
KEY_CHOICES = (True, True, True, False)  # most requests carry the customer's key, one in four another


def _books(customer_id: int) -> tuple:
    """What a refused request must leave as it was."""
    return (
        Customer.objects.values_list("balance", flat=True).get(pk=customer_id),
        LedgerEntry.objects.filter(customer_id=customer_id).count(),
        tuple(Order.objects.filter(customer_id=customer_id).order_by("id")
              .values_list("id", "status", "stage", "charge", "refunded")),
        Refill.objects.filter(order__customer_id=customer_id).count(),
        CancelRequest.objects.filter(order__customer_id=customer_id).count(),
    )


def _net_cost(customer_id: int) -> Decimal:
    total = Order.objects.filter(customer_id=customer_id).aggregate(total=Sum(F("charge") - F("refunded")))["total"]
    return total or Decimal(0)


def _is_error(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"error"}


def _refused(status: int, answer: object) -> bool:
    """Nothing was accepted: an error answer, or a list or map whose every entry is one."""
    if status != 200 or _is_error(answer):
        return True
    if isinstance(answer, dict) and all(str(name).isdigit() for name in answer):
        entries = list(answer.values())
    elif isinstance(answer, list) and all(isinstance(entry, dict) for entry in answer):
        entries = [entry if _is_error(entry) else next((v for v in entry.values() if _is_error(v)), None)
                   for entry in answer]
    else:
        return False
    return bool(entries) and all(_is_error(entry) for entry in entries)


@pytest.fixture
def world(settings, enqueued):
    """A customer with funds, one service per order type, orders at several stages, and a neighbour."""
    # The limits have tests of their own; here they would only turn the run into 429s.
    settings.API_RATE_LIMIT_PER_SECOND = settings.API_RATE_LIMIT_BURST = 10**6
    settings.API_KEY_FAILURE_LIMIT = 10**6
    customer = CustomerFactory(funds="1000")
    other = CustomerFactory(funds="100")
    # Any quantity the description allows is within the services' limits, and cheap: the run reaches
    # the orders themselves, not only "Quantity more than maximal".
    services = {name: ServiceFactory(type=name, min=1, max=MAX_INT, rate=Decimal("0.01"), dripfeed=name == DEFAULT)
                for name in ORDER_TYPES}
    closed = ServiceFactory(is_active=False)
    default = services[DEFAULT]
    for owner in (customer, other):
        OrderFactory(customer=owner, service=default, status=Status.COMPLETED, stage=Stage.FINAL, upstream_id="1")
        OrderFactory(customer=owner, service=default)  # paid, not sent: a cancel refunds it at once
        OrderFactory(customer=owner, service=default, status=Status.IN_PROGRESS, stage=Stage.SENT, upstream_id="2")
    return customer, other, services, closed


def _spellings(pk: int) -> list[object]:
    """The ways a client may write id `pk`: plain, and the spellings int() takes but the API must not."""
    text = str(pk)
    return [
        text,
        pk,
        f" {text} ",
        "".join(chr(0xFF10 + int(digit)) for digit in text),  # fullwidth digits
        "".join(chr(0x0660 + int(digit)) for digit in text),  # Arabic-Indic digits
        "0_" + text,
        "+" + text,
        [pk],
        float(pk),
        *([True] if pk == 1 else []),
    ]


def _near_keys(key: str) -> list[str]:
    """Keys close to the customer's, and keys that have broken key lookups: a NUL or a space in the part
    that is looked up, non-ASCII digits, far too long."""
    return [key[:-1], key + "0", key.upper(), "\x00" + key[1:], key[:5] + "\x00" + key[6:], key + "\x00",
            f"{key[:16]} {key[16:]}", "%00" + key[3:], "\u0661" * len(key), "\uff11" * len(key), key * 7]


def _wrong_key(key: str, data) -> str:
    """A key that is not the customer's: as generated (""), a near one, or theirs with a character changed."""
    how = data.draw(st.sampled_from(["generated", "near", "changed"]), label="wrong key")
    if how == "generated":
        return ""
    if how == "near":
        return data.draw(st.sampled_from(_near_keys(key)), label="near key")
    position = data.draw(st.integers(0, len(key) - 1), label="position")
    return key[:position] + data.draw(st.characters(exclude_categories=["Cs"]), label="character") + key[position + 1:]


def _aim(case, data, *, key: str, services: dict, closed_id: int) -> bool:
    """Point the generated request at real things; True when it carries the customer's key."""
    body = case.body
    if not isinstance(body, dict):
        return False
    valid_key = data.draw(st.sampled_from(KEY_CHOICES), label="valid key")
    if valid_key:
        body["key"] = key
    elif wrong := _wrong_key(key, data):
        body["key"] = wrong
    json_body = case.media_type == "application/json"

    def spelled(pk: int) -> object:
        spellings = [spelling for spelling in _spellings(pk) if json_body or isinstance(spelling, str | int)]
        return data.draw(st.sampled_from(spellings), label="spelling")

    if "service" in body and data.draw(st.booleans(), label="real service"):
        fitting = [service.pk for name, service in services.items() if set(ORDER_TYPES[name].required) <= set(body)]
        body["service"] = spelled(data.draw(st.sampled_from(fitting or [closed_id]), label="service"))
    pools = {
        "order": list(Order.objects.values_list("id", flat=True)),
        "refill": list(Refill.objects.values_list("id", flat=True)) or [1],
        "cancel": list(CancelRequest.objects.values_list("id", flat=True)) or [1],
    }
    for one, many, pool in (("order", "orders", "order"), ("refill", "refills", "refill"), (None, "cancels", "cancel")):
        if one in body and data.draw(st.booleans(), label=f"real {one}"):
            body[one] = spelled(data.draw(st.sampled_from(pools[pool]), label=one))
        if many in body and data.draw(st.booleans(), label=f"real {many}"):
            ids = data.draw(st.lists(st.sampled_from(pools[pool]), min_size=1, max_size=4), label=many)
            body[many] = ",".join(str(spelled(pk)) for pk in ids)
    return valid_key


def _read_numbers(body: dict, services: dict) -> list[str]:
    """The number fields the action reads from `body`: those it must take only as ASCII digits."""
    action = str(body.get("action", "")).strip().lower()

    def first(*names: str) -> list[str]:
        return next(([name] for name in names if str(body.get(name, "")).strip()), [])

    if action == "add":
        by_id = {str(service.pk): name for name, service in services.items()}
        type_name = by_id.get(str(body.get("service")).strip())
        fields = ORDER_TYPES[type_name].all_fields if type_name else ()
        return ["service", *(name for name in fields if FIELDS[name].kind in ("int", "choice"))]
    if action in ("status", "refill"):
        return first("orders", "order")
    if action == "refill_status":
        return first("refills", "refill")
    if action == "cancel":
        return first("cancels", "orders", "order")
    return []


def _ascii_digits(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if not isinstance(value, str):
        return False
    parts = [part.strip() for part in value.replace("%2C", ",").replace("%2c", ",").split(",")]
    return all(part.isascii() and part.isdigit() for part in parts if part)


def test_schemathesis_fuzz_of_api_v2(live_server, world, fuzz_summary):
    # given
    customer, other, services, closed = world
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json")
    schema.config.output.sanitization.update(enabled=False)  # a failure's curl line needs the (test) key
    operation = schema[API_PATH]["POST"]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    session = requests.Session()
    start_balance = customer.balance + _net_cost(customer.pk)
    other_books = _books(other.pk)
    answers: Counter[str] = Counter()

    @fuzz_settings(max_examples=FUZZ_EXAMPLES, deadline=EXAMPLE_DEADLINE, database=None, print_blob=True,
                   phases=[Phase.explicit, Phase.generate, Phase.shrink],
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                          HealthCheck.data_too_large])
    @seed(FUZZ_SEED)
    @given(case=cases, data=st.data())
    def fuzz(case, data):
        with_key = _aim(case, data, key=customer.raw_api_key, services=services, closed_id=closed.pk)
        before = _books(customer.pk)

        # when
        response = case.call(base_url=live_server.url, session=session, timeout=30)

        # then: documented status, JSON, documented shape, no 5xx
        case.validate_response(response, checks=CHECKS)
        answer = response.json()
        action = case.body.get("action") if isinstance(case.body, dict) else None
        action = action if isinstance(action, str) and action in ANSWERS else "-"
        if response.status_code == 200 and with_key and action in ANSWERS:
            assert documented(ANSWERS[action]).is_valid(answer), (action, answer)
        # a refusal changed nothing; what was accepted was written in ASCII digits; the neighbour is never touched
        refused = _refused(response.status_code, answer)
        if not refused and isinstance(case.body, dict):
            for name in _read_numbers(case.body, services):
                if name in case.body:
                    assert _ascii_digits(case.body[name]), (f"accepted {name}={case.body[name]!r}", case.body, answer)
        if refused:
            assert _books(customer.pk) == before, (case.body, answer)
        assert _books(other.pk) == other_books, (case.body, answer)
        outcome = "refused" if refused else "accepted"
        answers[f"{response.status_code} {action} {outcome}"] += 1

    # when
    started = time.monotonic()
    fuzz()
    elapsed = time.monotonic() - started

    # then: the books add up
    call_command("check_ledger")
    customer.refresh_from_db()
    assert customer.balance + _net_cost(customer.pk) == start_balance
    examples = sum(answers.values())
    accepted = sum(count for name, count in answers.items() if name.endswith(" accepted"))
    fuzz_summary.append(f"schemathesis fuzz of POST {API_PATH}: {examples} examples in {elapsed:.1f} s "
                        f"(FUZZ_EXAMPLES={FUZZ_EXAMPLES}, FUZZ_SEED={FUZZ_SEED}); {accepted} accepted, "
                        f"{examples - accepted} refused")
    fuzz_summary.extend(f"  {count:5d}  {name}" for name, count in sorted(answers.items()))
    assert answers, "no example ran"
