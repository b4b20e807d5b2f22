"""Sale prices: upstream cost converted into the panel currency, then marked up. Pure functions only."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from django.conf import settings

from accounts.money import MONEY_DECIMAL_PLACES

HUNDRED = Decimal(100)
ONE = Decimal(1)


class PricingError(ValueError):
    """A price cannot be computed (a missing exchange rate, a nonsensical markup)."""


def _round_up(amount: Decimal, decimals: int) -> Decimal:
    # Rounding up, never to nearest: a sale price rounded down could fall below what the upstream charges.
    return amount.quantize(ONE.scaleb(-decimals), rounding=ROUND_CEILING)


def price_decimals() -> int:
    """Decimals of a sale price: the setting, capped by what a money column keeps."""
    return max(0, min(int(settings.PANEL_PRICE_DECIMALS), MONEY_DECIMAL_PLACES))


def sale_rate(
    *,
    upstream_rate: Decimal,
    exchange_rate: Decimal,
    fixed_rate: Decimal | None,
    markup_percent: Decimal,
    decimals: int | None = None,
) -> Decimal:
    """Sale price per 1000 in the panel currency.

    `exchange_rate` is how many panel-currency units one unit of the provider's currency buys. A fixed
    rate wins over the markup and is kept as entered; a marked-up price is rounded up to `decimals` (the
    panel's price decimals by default). Never below the converted upstream cost, whatever the fixed rate
    or markup.
    """
    if exchange_rate <= 0:
        raise PricingError(f"Exchange rate must be positive, got {exchange_rate}")
    places = price_decimals() if decimals is None else decimals
    cost = Decimal(upstream_rate) * Decimal(exchange_rate)
    if fixed_rate is not None:
        price = Decimal(fixed_rate)  # the admin's exact figure
    else:
        price = _round_up(cost * (ONE + Decimal(markup_percent) / HUNDRED), places)
    return max(price, _round_up(cost, places))


def markup_for(
    *,
    service_markup: Decimal | None,
    category_markup: Decimal | None,
    provider_markup: Decimal | None,
) -> Decimal:
    """The most specific markup that is set: service › category › provider › panel default."""
    for markup in (service_markup, category_markup, provider_markup):
        if markup is not None:
            return Decimal(markup)
    return Decimal(settings.PANEL_DEFAULT_MARKUP_PERCENT)


def margin_percent(*, rate: Decimal, cost: Decimal) -> Decimal | None:
    """Margin of a sale price over its cost, in percent of the cost (None when the cost is zero)."""
    if not cost:
        return None
    return ((Decimal(rate) - Decimal(cost)) / Decimal(cost) * HUNDRED).quantize(Decimal("0.01"))
