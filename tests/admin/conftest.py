"""What the admin tests share: a day's worth of things that wait for an operator, and reading the home."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import Deposit, Gateway, PaymentRequest
from orders.models import Stage, Status
from support.models import Ticket
from tests.factories import CustomerFactory, OrderFactory, ProviderFactory, ServiceFactory, UserFactory

_ITEM = re.compile(r'<a href="([^"]+)"><span class="ph-count" data-count>(\d+)</span> <span>([^<]+)</span></a>')


def home_items(html: str) -> dict[str, tuple[int, str]]:
    """The home's "Needs attention" and provider counts: label -> (count, link)."""
    return {label: (int(count), url.replace("&amp;", "&")) for url, count, label in _ITEM.findall(html)}


def staff_client(*codenames: str) -> Client:
    """A client signed in (second factor included) as staff with only the given view/change permissions."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def gateway() -> Gateway:
    return Gateway.objects.get_or_create(name="card", defaults={"kind": Gateway.Kind.STRIPE})[0]


def deposit(customer, status: str) -> Deposit:
    return Deposit.objects.create(customer=customer, gateway=gateway(), amount=Decimal("20"), currency="USD",
                                  pay_amount=Decimal("20"), credit_amount=Decimal("20"), status=status)


def things_waiting(copies: int = 1) -> dict[str, int]:
    """`copies` of each kind of thing the home counts, and a few that it must not count. Returns the counts."""
    now = timezone.now()
    for _ in range(copies):
        customer = CustomerFactory()
        service = ServiceFactory()
        OrderFactory(customer=customer, service=service, stage=Stage.UNKNOWN)
        OrderFactory(customer=customer, service=service, stage=Stage.UNKNOWN,
                     attention="The add call's outcome is unknown")
        OrderFactory(customer=customer, service=service, stage=Stage.SENT, status=Status.IN_PROGRESS,
                     attention="The provider answered 'Incorrect order ID' on 3 polls in a row")
        OrderFactory(customer=customer, service=service)  # paid, fine
        PaymentRequest.objects.create(customer=customer, amount=Decimal("15"), method="bank_transfer",
                                      reference="BCA-1")
        PaymentRequest.objects.create(customer=customer, amount=Decimal("5"), method="e_wallet",
                                      status=PaymentRequest.Status.REJECTED)
        deposit(customer, Deposit.Status.REVIEW)
        deposit(customer, Deposit.Status.PENDING)
        deposit(customer, Deposit.Status.CREATED)
        deposit(customer, Deposit.Status.EXPIRED)
        Ticket.objects.create(customer=customer, subject=Ticket.Subject.ORDER, summary="Stuck order")
        Ticket.objects.create(customer=customer, subject=Ticket.Subject.API, state=Ticket.State.ANSWERED,
                              answered_at=now)
        ProviderFactory(upstream_balance=Decimal("3"), low_balance_threshold=Decimal("50"))
        ProviderFactory(circuit_open_until=now + timedelta(minutes=5), upstream_balance=Decimal("900"))
        ProviderFactory(retry_after_until=now - timedelta(minutes=5))  # a pause that is over
    return {"unknown": 2 * copies, "flagged": 2 * copies, "payment_requests": copies, "review": copies,
            "open_deposits": 2 * copies, "tickets": copies, "low_balance": copies, "circuit_open": copies}
