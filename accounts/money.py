"""One money spec for every amount column: its precision and its half-up rounding.

What an order costs (units, rates, discounts, currencies) is priced in providers.pricing.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

MONEY_MAX_DIGITS = 20
MONEY_DECIMAL_PLACES = 5
CENT = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)  # 0.00001: charges are kept to 5 places
# The one rounding rule for money: stored amounts and shown amounts alike (providers.pricing.format_money).
MONEY_ROUNDING = ROUND_HALF_UP
ZERO = Decimal("0")


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    """A DecimalField with the panel's money precision."""
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    field = models.DecimalField(**kwargs)
    # Marks an amount for display (panel.admin_money shows it like the customer pages); not part of the
    # field's deconstruction, so migrations do not see it.
    field.is_money = True
    return field


def quantize(amount: Decimal) -> Decimal:
    """Round to the money precision, half up."""
    return Decimal(amount).quantize(CENT, rounding=MONEY_ROUNDING)
