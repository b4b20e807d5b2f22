"""One money spec for every amount column, and the rounding rules for charges and refunds."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

MONEY_MAX_DIGITS = 20
MONEY_DECIMAL_PLACES = 5
CENT = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)  # 0.00001: charges are kept to 5 places
ZERO = Decimal("0")
PER = Decimal(1000)  # prices are per 1000 units


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    """A DecimalField with the panel's money precision."""
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


def quantize(amount: Decimal) -> Decimal:
    """Round to the money precision, half up."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def price_for(*, rate: Decimal, units: int | Decimal) -> Decimal:
    """What `units` cost at `rate` per 1000, rounded to the money precision."""
    return quantize(Decimal(rate) * Decimal(units) / PER)
