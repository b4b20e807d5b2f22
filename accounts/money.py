"""One money spec for every amount column: its precision and its half-up rounding.

What an order costs (units, rates, discounts, currencies) is priced in providers.pricing.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

MONEY_MAX_DIGITS = 20
MONEY_DECIMAL_PLACES = 5
CENT = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)  # 0.00001: charges are kept to 5 places
ZERO = Decimal("0")


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    """A DecimalField with the panel's money precision."""
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


def quantize(amount: Decimal) -> Decimal:
    """Round to the money precision, half up."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
