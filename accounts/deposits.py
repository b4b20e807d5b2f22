"""Money coming in: deposits through payment gateways, credited exactly once.

A deposit is quoted (fee, bonus, conversion into the panel currency), sent to its gateway's checkout,
and moved by what the gateway says (`PaymentState`), from a webhook, the return page or a periodic
check, in any order and any number of times. `deposit_apply_state` is the one place a state moves a
deposit: under the customer's and then the deposit's row lock, a paid deposit is credited once, and
the database refuses a second credit row for the same deposit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as money
from accounts.gateways import GatewayError, Outcome, PaymentState, WebhookRefused, gateway_module
from accounts.models import BonusTier, Customer, Deposit, Gateway, LedgerEntry
from accounts.money import ZERO, quantize
from audit.services import audit_record
from notify import events as notify_events

logger = logging.getLogger(__name__)

HUNDRED = Decimal(100)
OPEN = (Deposit.Status.CREATED, Deposit.Status.PENDING)
# A gateway's fee and what it collects are in its currency's smallest unit (cents).
MINOR_UNIT = Decimal("0.01")
# A failed or expired deposit that is paid after all (a slow bank debit) is money received: a person looks.
ENDED = (Deposit.Status.FAILED, Deposit.Status.EXPIRED)


@dataclass(frozen=True)
class DepositQuote:
    amount: Decimal  # asked to add, in the gateway's currency
    fee: Decimal  # the gateway fee, in the gateway's currency
    pay_amount: Decimal  # what the customer pays at the gateway
    currency: str
    exchange_rate: Decimal  # panel-currency units per unit of `currency`
    credit_amount: Decimal  # credited to the balance, in the panel currency
    bonus: Decimal  # credited on top, in the panel currency, as its own ledger row


def _exchange_rate(currency: str) -> Decimal:
    from providers.selectors import MissingExchangeRate, exchange_rate_for

    try:
        return exchange_rate_for(currency=currency)
    except MissingExchangeRate as error:
        logger.error("deposits in %s cannot be quoted: %s", currency, error)
        raise money.MoneyError(_("This payment method is not available right now")) from None


def bonus_for(credit_amount: Decimal) -> Decimal:
    """The bonus the highest tier reached gives, in the panel currency."""
    tier = BonusTier.objects.filter(min_amount__lte=credit_amount).order_by("-min_amount").first()
    return quantize(credit_amount * tier.percent / HUNDRED) if tier else ZERO


def deposit_quote(*, gateway: Gateway, amount: Decimal | str) -> DepositQuote:
    """What paying `amount` through `gateway` costs and credits. Raises MoneyError (limits, bad amount)."""
    value = money.clean_amount(amount)
    if value != value.quantize(MINOR_UNIT):
        raise money.MoneyError(_("At most 2 decimal places"))
    if value < gateway.min_amount or value > gateway.max_amount:
        raise money.MoneyError(_("The amount must be between %(min)s and %(max)s %(currency)s") % {
            "min": f"{gateway.min_amount.normalize():f}", "max": f"{gateway.max_amount.normalize():f}",
            "currency": gateway.currency})
    fee = (value * gateway.fee_percent / HUNDRED).quantize(MINOR_UNIT, rounding=ROUND_HALF_UP)
    customer_pays_fee = settings.PAYMENT_FEE_MODE == "add"
    pay_amount = value + fee if customer_pays_fee else value
    credited = value if customer_pays_fee else value - fee
    rate = _exchange_rate(gateway.currency)
    credit_amount = quantize(credited * rate)
    if credit_amount <= ZERO:
        raise money.MoneyError(_("The amount does not cover the payment method's fee"))
    return DepositQuote(amount=value, fee=fee, pay_amount=pay_amount, currency=gateway.currency, exchange_rate=rate,
                        credit_amount=credit_amount, bonus=bonus_for(credit_amount))


def deposit_start(*, customer: Customer, gateway: Gateway, amount: Decimal | str, success_url: str,
                  cancel_url: str, webhook_url: str) -> Deposit:
    """Create a deposit and its checkout at the gateway. Raises MoneyError or GatewayError (nothing owed).

    `success_url` may contain `{id}`, replaced by the deposit's id. The gateway is called outside any
    transaction: the deposit row exists first, so a webhook that arrives fast finds it.
    """
    if not gateway.is_enabled:
        raise money.MoneyError(_("This payment method is not available right now"))
    quote = deposit_quote(gateway=gateway, amount=amount)
    deposit = Deposit.objects.create(
        customer=customer, gateway=gateway, amount=quote.amount, pay_amount=quote.pay_amount,
        currency=quote.currency, fee=quote.fee, exchange_rate=quote.exchange_rate,
        credit_amount=quote.credit_amount, bonus=quote.bonus,
    )
    try:
        checkout = gateway_module(gateway).create_checkout(
            deposit, success_url=success_url.replace("{id}", str(deposit.pk)),
            cancel_url=cancel_url.replace("{id}", str(deposit.pk)), webhook_url=webhook_url)
    except GatewayError as error:
        Deposit.objects.filter(pk=deposit.pk, status=Deposit.Status.CREATED).update(
            status=Deposit.Status.FAILED, note=f"Checkout not created: {error}"[:500], updated_at=timezone.now())
        raise
    Deposit.objects.filter(pk=deposit.pk, status=Deposit.Status.CREATED).update(
        status=Deposit.Status.PENDING, reference=checkout.reference[:200], checkout_url=checkout.redirect_url[:1000],
        updated_at=timezone.now())
    deposit.refresh_from_db()
    return deposit


def _find(gateway: Gateway, state: PaymentState) -> Deposit | None:
    """The deposit a state is about: by the gateway's reference; by our id only while the deposit has no
    other reference (another site on the same gateway account may send events naming the same id)."""
    deposits = Deposit.objects.filter(gateway=gateway)
    if state.reference:
        found = deposits.filter(reference=state.reference).first()
        if found is not None:
            return found
    if state.deposit_id is not None:
        found = deposits.filter(pk=state.deposit_id).first()
        if found is not None and found.reference in ("", state.reference):
            return found
    return None


def _credit(deposit: Deposit, customer: Customer, *, amount: Decimal, now: datetime) -> None:
    """Write the credit (and the bonus) for a locked, unpaid deposit, and mark it paid."""
    note = f"Deposit #{deposit.pk} via {deposit.gateway}"
    entry = money.balance_credit_deposit(customer=customer, deposit_id=deposit.pk, amount=amount,
                                         cause=LedgerEntry.Cause.GATEWAY, note=note)
    if deposit.bonus > ZERO:
        money.balance_credit_deposit(customer=customer, deposit_id=deposit.pk, amount=deposit.bonus,
                                     cause=LedgerEntry.Cause.BONUS, note=f"Bonus on deposit #{deposit.pk}")
    deposit.status, deposit.ledger_entry, deposit.paid_at = Deposit.Status.PAID, entry, now
    # In the credit's transaction: the mail is queued with it and sent only once it commits.
    notify_events.deposit_credited(deposit=deposit, customer=customer, amount=amount + deposit.bonus)


def _credit_for(deposit: Deposit, received: Decimal) -> Decimal:
    """What a payment of `received` (the deposit's currency) credits: less the quoted fee, converted at the
    rate stored when it was quoted. Paid in full gives exactly the quoted credit; paid over gives more."""
    return quantize((received - deposit.fee) * deposit.exchange_rate)


def _judge(deposit: Deposit, state: PaymentState) -> tuple[str, str]:
    """The deposit's next status for a PAID state, and why: paid in full, or held for review."""
    if not state.currency or state.currency.upper() != deposit.currency.upper():
        return Deposit.Status.REVIEW, f"Paid in {state.currency or 'an unnamed currency'}, not in {deposit.currency}"
    if state.amount is None:
        return Deposit.Status.REVIEW, "The gateway did not say how much was paid"
    if state.amount < deposit.pay_amount and not state.less_is_final:
        return Deposit.Status.REVIEW, f"Received {state.amount} of {deposit.pay_amount} {deposit.currency}"
    if _credit_for(deposit, state.amount) <= ZERO:
        return Deposit.Status.REVIEW, f"Received {state.amount} {deposit.currency}: not more than the fee"
    return Deposit.Status.PAID, state.note


def deposit_apply_state(*, gateway: Gateway, state: PaymentState, now: datetime | None = None) -> Deposit | None:
    """Move the deposit `state` is about. Returns it, or None when the state names no deposit of ours.

    Idempotent: a paid, failed or expired deposit does not move again, whatever arrives, however often.
    """
    if state.outcome == Outcome.IGNORE:
        return None
    found = _find(gateway, state)
    if found is None:
        logger.info("gateway %s: a %s event for no deposit of ours (%s)", gateway.name, state.outcome, state.reference)
        return None
    now = now or timezone.now()
    with transaction.atomic():
        customer = money.lock_customer(found.customer_id)  # the lock order: customer, then deposit
        deposit = Deposit.objects.select_for_update().get(pk=found.pk)
        if deposit.status == Deposit.Status.PAID or state.outcome == Outcome.PENDING:
            return deposit
        if deposit.status in ENDED and state.outcome != Outcome.PAID:
            return deposit
        deposit.last_event = dict(state.raw) if state.raw else deposit.last_event
        if state.amount is not None:
            deposit.received_amount, deposit.received_currency = state.amount, state.currency.upper()[:10]
        if state.outcome == Outcome.PAID:
            status, note = _judge(deposit, state)
            if status == Deposit.Status.PAID and deposit.status in ENDED:
                status, note = Deposit.Status.REVIEW, f"Paid after the deposit was {deposit.status}"
            if status == Deposit.Status.PAID:
                _credit(deposit, customer, amount=_credit_for(deposit, state.amount), now=now)
                deposit.note = note[:500]
            elif deposit.status != Deposit.Status.REVIEW:
                deposit.status, deposit.note = status, note[:500]
                logger.warning("deposit %s held for review: %s", deposit.pk, note)
        elif state.outcome == Outcome.REVIEW and deposit.status != Deposit.Status.REVIEW:
            deposit.status, deposit.note = Deposit.Status.REVIEW, state.note[:500]
        elif state.outcome in (Outcome.FAILED, Outcome.EXPIRED) and deposit.status in OPEN:
            deposit.status = Deposit.Status.FAILED if state.outcome == Outcome.FAILED else Deposit.Status.EXPIRED
            deposit.note = state.note[:500]
        deposit.updated_at = now
        deposit.save()
    return deposit


def deposit_webhook(*, gateway_name: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    """A notification to /payments/<name>/webhook/: (HTTP status, short answer). Never raises for bad input."""
    gateway = Gateway.objects.filter(name=gateway_name).first()
    if gateway is None:
        return 404, "unknown gateway"
    try:
        state = gateway_module(gateway).parse_webhook(body=body, headers=headers)
    except WebhookRefused as refusal:
        logger.warning("gateway %s: webhook refused: %s", gateway.name, refusal.reason)
        return refusal.status, refusal.reason
    except GatewayError as error:
        # The gateway's own verification call failed: a 5xx makes the gateway retry later.
        logger.warning("gateway %s: webhook not verified now: %s", gateway.name, error)
        return 503, "try again later"
    deposit = deposit_apply_state(gateway=gateway, state=state)
    return 200, "ok" if deposit is not None else "ignored"


def deposit_refresh(*, deposit_id: int, now: datetime | None = None) -> Deposit:
    """Ask the gateway about an open deposit and apply the answer (return page, reconciliation, admin)."""
    deposit = Deposit.objects.select_related("gateway").get(pk=deposit_id)
    if deposit.status not in OPEN or not deposit.reference:
        return deposit
    now = now or timezone.now()
    Deposit.objects.filter(pk=deposit_id).update(last_checked_at=now)
    try:
        state = gateway_module(deposit.gateway).fetch_state(deposit)
    except (GatewayError, WebhookRefused) as error:
        logger.warning("deposit %s: gateway check failed: %s", deposit_id, error)
        return deposit
    return deposit_apply_state(gateway=deposit.gateway, state=state, now=now) or deposit


def deposits_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Open deposits older than PAYMENT_RECONCILE_MINUTES are checked with their gateway (a lost webhook);
    those past PAYMENT_EXPIRE_HOURS with nothing paid expire."""
    now = now or timezone.now()
    due = Deposit.objects.filter(status__in=OPEN, created_at__lte=now - timedelta(
        minutes=settings.PAYMENT_RECONCILE_MINUTES)).order_by("id").values_list("id", flat=True)[:500]
    checked = 0
    for deposit_id in list(due):
        deposit_refresh(deposit_id=deposit_id, now=now)
        checked += 1
    expired = Deposit.objects.filter(status__in=OPEN, created_at__lte=now - timedelta(
        hours=settings.PAYMENT_EXPIRE_HOURS)).update(status=Deposit.Status.EXPIRED, updated_at=now,
                                                      note="Not paid in time")
    return {"checked": checked, "expired": expired}


def deposit_review_credit(*, deposit_id: int, actor, reason: str, now: datetime | None = None) -> bool:
    """An admin accepts a deposit held for review: the amount received is credited (converted), once."""
    now = now or timezone.now()
    with transaction.atomic():
        customer_id = Deposit.objects.values_list("customer_id", flat=True).get(pk=deposit_id)
        customer = money.lock_customer(customer_id)
        deposit = Deposit.objects.select_for_update().select_related("gateway").get(pk=deposit_id)
        if deposit.status != Deposit.Status.REVIEW or not deposit.received_amount:
            return False
        amount = _credit_for(deposit, deposit.received_amount)
        if amount <= ZERO:
            return False
        before = deposit.status
        _credit(deposit, customer, amount=amount, now=now)
        deposit.save()
        audit_record(action="deposit.review_credit", subject_type="deposit", subject_id=deposit.pk, actor=actor,
                     customer_id=customer.pk, changes={"status": (before, deposit.status)}, reason=reason)
    return True


def deposit_review_fail(*, deposit_id: int, actor, reason: str) -> bool:
    """An admin refused a deposit held for review (refunded outside the panel): failed, nothing credited."""
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.status != Deposit.Status.REVIEW:
            return False
        deposit.status, deposit.note = Deposit.Status.FAILED, reason[:500]
        deposit.save(update_fields=["status", "note", "updated_at"])
        audit_record(action="deposit.review_fail", subject_type="deposit", subject_id=deposit.pk, actor=actor,
                     customer_id=deposit.customer_id, changes={"status": (Deposit.Status.REVIEW, deposit.status)},
                     reason=reason)
    return True


def gateway_save(*, name: str, kind: str, credentials: Mapping[str, str], api_base: str = "", currency: str = "USD",
                 min_amount: Decimal | str | None = None, max_amount: Decimal | str | None = None,
                 fee_percent: Decimal | str | None = None, enabled: bool = True) -> tuple[Gateway, bool]:
    """Register a gateway, or update the one of that name. Returns (gateway, created). Raises MoneyError.

    Credentials are merged into the stored ones, so one secret can be rotated without retyping the rest.
    """
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator, validate_slug

    from accounts.gateways import module_class

    try:
        validate_slug(name)
    except ValidationError:
        raise money.MoneyError(f"A gateway name is letters, digits, - and _ only: {name!r}") from None
    try:
        required = module_class(kind).credential_names
    except GatewayError as error:
        raise money.MoneyError(str(error)) from None
    if api_base:
        try:
            URLValidator(schemes=["http", "https"])(api_base)
        except ValidationError:
            raise money.MoneyError(f"Not an http(s) URL: {api_base!r}") from None
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise money.MoneyError(f"A currency is a three-letter code such as USD, got {currency!r}")
    gateway = Gateway.objects.filter(name=name).first() or Gateway(name=name, kind=kind)
    if gateway.kind != kind:
        raise money.MoneyError(f"Gateway {name!r} is a {gateway.kind} gateway; choose another name")
    unknown = sorted(set(credentials) - set(required))
    if unknown:
        raise money.MoneyError(f"Unknown credential(s) for {kind}: {', '.join(unknown)} "
                               f"(expected {', '.join(required)})")
    merged = {**(gateway.credentials or {}), **{k: v for k, v in credentials.items() if v}}
    missing = [n for n in required if not merged.get(n)]
    if missing:
        raise money.MoneyError(f"Missing credential(s) for {kind}: {', '.join(missing)}")
    gateway.credentials, gateway.api_base, gateway.currency, gateway.is_enabled = merged, api_base, code, enabled
    for field_name, value in (("min_amount", min_amount), ("max_amount", max_amount), ("fee_percent", fee_percent)):
        if value is not None:
            setattr(gateway, field_name, money.clean_amount(value))
    if gateway.min_amount <= ZERO or gateway.max_amount < gateway.min_amount:
        raise money.MoneyError("The minimum must be positive and the maximum at least the minimum")
    if not ZERO <= gateway.fee_percent < HUNDRED:
        raise money.MoneyError("The fee is a percent from 0 to below 100")
    created = gateway.pk is None
    gateway.save()
    return gateway, created
