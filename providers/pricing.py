"""Every pricing rule, as pure functions: the sale rate (conversion, markup), the customer's discount, the units
an order is charged for, and what those units cost.

Two currencies meet here. A provider bills in its own (`upstream_rate`, an order's `upstream_charge`); customers
pay in the panel's (`rate`, `charge`, `refunded`). `ProviderAmount` and `PanelAmount` name which is which, and
`to_panel_currency` is the one way from the first to the second. Storage precision and its half-up rounding are
the money column's spec, in accounts.money.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, NewType

from django.conf import settings
from django.utils import formats

from accounts.money import MONEY_DECIMAL_PLACES, MONEY_ROUNDING, quantize
from providers.ordertypes import OrderType

if TYPE_CHECKING:
    from providers.models import Service

HUNDRED = Decimal(100)
ONE = Decimal(1)
PER = Decimal(1000)  # rates are per 1000 units
# A package type's rate is the price of one package, and rates are per PER units: one package counts as PER units.
PACKAGE_UNITS = int(PER)

ProviderAmount = NewType("ProviderAmount", Decimal)  # in a provider's currency: what the upstream bills
PanelAmount = NewType("PanelAmount", Decimal)  # in the panel's currency: what customers pay


class PricingError(ValueError):
    """A price cannot be computed (a missing exchange rate, a nonsensical markup)."""


# --- currency --------------------------------------------------------------------------------------------------


def to_panel_currency(amount: ProviderAmount, *, exchange_rate: Decimal) -> PanelAmount:
    """`amount` of a provider's currency in the panel's, unrounded.

    `exchange_rate` is how many panel-currency units one unit of the provider's currency buys.
    """
    if exchange_rate <= 0:
        raise PricingError(f"Exchange rate must be positive, got {exchange_rate}")
    return PanelAmount(Decimal(amount) * Decimal(exchange_rate))


# --- sale rate -------------------------------------------------------------------------------------------------


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
) -> PanelAmount:
    """Sale price per 1000 in the panel currency, from `upstream_rate` per 1000 in the provider's.

    A fixed rate wins over the markup and is kept as entered; a marked-up price is rounded up to `decimals` (the
    panel's price decimals by default). Never below the converted upstream cost, whatever the fixed rate
    or markup.
    """
    cost = to_panel_currency(ProviderAmount(Decimal(upstream_rate)), exchange_rate=exchange_rate)
    places = price_decimals() if decimals is None else decimals
    if fixed_rate is not None:
        price = Decimal(fixed_rate)  # the admin's exact figure
    else:
        price = _round_up(cost * (ONE + Decimal(markup_percent) / HUNDRED), places)
    return PanelAmount(max(price, _round_up(cost, places)))


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


def keeps_margin(*, rate: PanelAmount, cost: PanelAmount, min_margin_percent: Decimal) -> bool:
    """Whether selling at `rate` something that costs `cost` (both per 1000, in the panel currency) keeps at
    least `min_margin_percent` over the cost: the failover's guard against selling at a loss."""
    margin = margin_percent(rate=rate, cost=cost)
    return Decimal(rate) >= 0 if margin is None else margin >= Decimal(min_margin_percent)


def cost_difference_percent(*, cost: PanelAmount, other: PanelAmount) -> Decimal | None:
    """How far `other` is from `cost`, in percent of `cost`, either way (None when `cost` is zero)."""
    if not cost:
        return None
    return (abs(Decimal(other) - Decimal(cost)) / Decimal(cost) * HUNDRED).quantize(Decimal("0.01"))


# --- the customer's rate ---------------------------------------------------------------------------------------


def discounted_rate(*, rate: Decimal, discount_percent: Decimal) -> PanelAmount:
    """A price per 1000 less a discount in percent, at the money precision."""
    if not discount_percent:
        return PanelAmount(rate)
    return PanelAmount(quantize(rate * (HUNDRED - Decimal(discount_percent)) / HUNDRED))


def customer_rate(*, service: Service, discount_percent: Decimal) -> PanelAmount:
    """The customer's price per 1000: the service's sale rate less their discount."""
    return discounted_rate(rate=service.rate, discount_percent=discount_percent)


# --- units -----------------------------------------------------------------------------------------------------


def _priced_units(count: int, *, per_package: bool) -> int:
    return count * PACKAGE_UNITS if per_package else count


def units_for(order_type: OrderType, *, quantity: int, runs: int | None = None) -> int:
    """The units charged for `quantity` (per run) of `order_type`; a drip-feed pays every one of its `runs`."""
    per_run = _priced_units(quantity, per_package=order_type.per_package)
    return per_run * runs if runs else per_run


def refund_units(*, remains: int, per_package: bool) -> int:
    """The units `remains` undelivered stand for: packages for a package type, plain units otherwise."""
    return _priced_units(remains, per_package=per_package)


def subscription_units(*, posts: int, post_max: int | None) -> int:
    """The units `posts` posts of a subscription are charged: `post_max` (its `max`) each."""
    return posts * (post_max or 0)


# --- charges ---------------------------------------------------------------------------------------------------


def charge_for(*, rate: Decimal, units: int | Decimal) -> PanelAmount:
    """What `units` cost at `rate` per 1000, rounded half up to the money precision."""
    return PanelAmount(quantize(Decimal(rate) * Decimal(units) / PER))


# --- showing amounts -------------------------------------------------------------------------------------------


def display_decimals() -> int:
    """Decimals every amount is shown with: the setting, capped by what a money column keeps."""
    return max(0, min(int(settings.MONEY_DISPLAY_DECIMALS), MONEY_DECIMAL_PLACES))


def round_for_display(amount: Decimal, *, decimals: int | None = None) -> Decimal:
    """`amount` at the shown precision, by the money rounding rule (half up), never by the browser's."""
    places = display_decimals() if decimals is None else decimals
    return Decimal(amount).quantize(ONE.scaleb(-places), rounding=MONEY_ROUNDING)


def format_money(amount: Decimal | int | str | None, *, decimals: int | None = None) -> str:
    """The one way an amount is shown to a person: a fixed number of decimals, in the active language's
    separators (1,234.5000 in English, 1.234,5000 in Indonesian). Empty for None.

    For reading only: figures a script or the page's JavaScript reads are `money_plain` (or plain JSON).
    """
    if amount is None or amount == "":
        return ""
    rounded = round_for_display(Decimal(amount), decimals=decimals)
    if not rounded:
        rounded = abs(rounded)  # -0.00001 shows as 0.0000, not -0.0000
    places = -rounded.as_tuple().exponent
    return formats.number_format(rounded, places, use_l10n=True, force_grouping=True)


def format_money_apart(*amounts: Decimal) -> list[str]:
    """`amounts` formatted to be told apart: at the shown decimals, or at the stored ones where two would
    otherwise look the same (a balance of 0.07442 against a charge of 0.07443)."""
    shown = [format_money(amount) for amount in amounts]
    if len(set(shown)) < len(set(amounts)):
        return [format_money(amount, decimals=MONEY_DECIMAL_PLACES) for amount in amounts]
    return shown


def money_plain(amount: Decimal) -> str:
    """`amount` at the money precision as machine text, whatever the language: "0.07443"."""
    return f"{quantize(Decimal(amount)):f}"
