"""Mass orders: one order per line, `service_id | link | quantity`; each line stands alone."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from accounts.models import Customer
from accounts.services import InsufficientFunds
from orders.models import Order, Source
from orders.services import order_create, service_for_order
from orders.validation import OrderInputError
from providers.ordertypes import split_lines

MASS_ORDER_MAX_LINES = 100  # each line is its own transaction; more belongs on the API


@dataclass
class MassLine:
    number: int
    text: str
    order: Order | None = None
    error: str = ""


class MassOrderTooLong(ValueError):
    pass


def mass_order_place(*, customer: Customer, text: str) -> list[MassLine]:
    """Place one order per line. A bad line (or one the balance no longer covers) charges nothing and
    does not stop the others. Raises MassOrderTooLong before placing anything when there are too many lines."""
    lines = split_lines(text)
    if len(lines) > MASS_ORDER_MAX_LINES:
        raise MassOrderTooLong(_("At most %(n)s lines per mass order.") % {"n": MASS_ORDER_MAX_LINES})
    results: list[MassLine] = []
    for number, line in enumerate(lines, start=1):
        result = MassLine(number=number, text=line)
        results.append(result)
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3:
            result.error = _("Use the format: service_id | link | quantity")
            continue
        service_id, link, quantity = parts
        try:
            service = service_for_order(service_id)
            result.order = order_create(customer=customer, service=service, data={"link": link, "quantity": quantity},
                                        source=Source.MASS)
        except OrderInputError as error:
            result.error = error.message
        except InsufficientFunds:
            result.error = _("Not enough funds on balance")
    return results
