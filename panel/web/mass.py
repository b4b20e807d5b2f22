"""Mass orders: one order per line, `service_id | link | quantity`; each line stands alone."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from accounts.models import Customer
from accounts.services import InsufficientFunds
from orders.models import Order, Source
from orders.services import order_create, service_for_order
from orders.validation import OrderInputError
from providers.models import Service
from providers.ordertypes import ORDER_TYPES, split_lines
from providers.selectors import services_orderable

MASS_ORDER_MAX_LINES = 100  # each line is its own transaction; more belongs on the API
# A line carries a link and a quantity, nothing else: only types that need exactly those can be mass-ordered.
MASS_TYPES = tuple(name for name, t in ORDER_TYPES.items() if set(t.required) == {"link", "quantity"})
EXAMPLE_LINES = 2
EXAMPLE_QUANTITY = 1000


@dataclass
class MassLine:
    number: int
    text: str
    order: Order | None = None
    error: str = ""


class MassOrderTooLong(ValueError):
    pass


def mass_orderable(service: Service) -> bool:
    return service.type in MASS_TYPES


def mass_order_example() -> list[str]:
    """Sample lines made of services this panel sells and a mass order takes, each at a quantity it accepts;
    empty when there is none."""
    services = services_orderable().filter(type__in=MASS_TYPES).order_by("category__sort_order", "id")
    lines = []
    for number, service in enumerate(services[:EXAMPLE_LINES], start=1):
        quantity = min(max(EXAMPLE_QUANTITY, service.min), service.max)
        lines.append(f"{service.pk} | https://example.com/post/{number} | {quantity}")
    return lines


def mass_order_place(*, customer: Customer, text: str) -> list[MassLine]:
    """Place one order per line. A bad line (or one the balance no longer covers) charges nothing and
    does not stop the others. Raises MassOrderTooLong before placing anything when there are too many lines.
    Errors are in the customer's language."""
    lines = split_lines(text)
    if len(lines) > MASS_ORDER_MAX_LINES:
        raise MassOrderTooLong(_("At most %(n)s lines per mass order.") % {"n": MASS_ORDER_MAX_LINES})
    results: list[MassLine] = []
    for number, line in enumerate(lines, start=1):
        result = MassLine(number=number, text=line)
        results.append(result)
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3:
            result.error = _("Use the format: service ID | link | quantity")
            continue
        service_id, link, quantity = parts
        try:
            service = service_for_order(service_id)
            if not mass_orderable(service):
                result.error = _("Service %(id)s needs more than a link and a quantity: order it on the New order "
                                 "page.") % {"id": service.pk}
                continue
            result.order = order_create(customer=customer, service=service, data={"link": link, "quantity": quantity},
                                        source=Source.MASS)
        except OrderInputError as error:
            result.error = error.localized()
        except InsufficientFunds:
            result.error = _("Not enough funds on balance")
    return results
