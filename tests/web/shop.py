"""A panel with something on every customer page: services of several types with long names, orders in each
state (one with a long link), refills and cancels (one rejected with a reason), payment requests, a deposit.

Used by the layout tests (tests/web/test_browser_layout.py) and the Indonesian pages test.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Customer, Deposit, Gateway, PaymentRequest
from accounts.services import payment_request_approve
from orders.models import CancelRequest, Order, Refill, RequestStage, RequestStatus, Source, Stage, Status
from orders.services import order_create
from providers.models import Service
from tests.factories import CategoryFactory, CustomerFactory, ServiceFactory

LONG_LINK = "https://www.instagram.com/" + "a.really.long.profile.name." * 12 + "/?utm_source=ig_web_copy_link"
REFILL_REASON = "Refill is not possible: the drop is under 10 %"
CANCEL_REASON = "Order is already in progress and cannot be canceled"


@dataclass
class Shop:
    customer: Customer
    followers: Service
    views: Service
    comments: Service
    mentions: Service
    completed: Order
    in_progress: Order
    pending: Order


def open_shop(*, funds: str = "250") -> Shop:
    followers_category = CategoryFactory(name="Instagram Followers")
    youtube = CategoryFactory(name="YouTube Views")
    followers = ServiceFactory(
        category=followers_category, rate=Decimal("0.4550"), min=50, max=100000, dripfeed=True,
        name="Instagram Followers — Real Looking Accounts, HQ, 30 Days Auto Refill, Speed 10k/day",
        description="Start: 0-1 hour\nSpeed: 5k/day\nRefill: 30 days")
    comments = ServiceFactory(category=followers_category, name="Instagram Custom Comments [Worldwide]",
                              type="Custom Comments", rate=Decimal("12.50"), min=5, max=1000, refill=False,
                              cancel=False)
    mentions = ServiceFactory(category=followers_category, name="Instagram Mentions Custom List",
                              type="Mentions Custom List", rate=Decimal("3.00"), min=10, max=1000, refill=False)
    views = ServiceFactory(category=youtube, name="YouTube Views — Fast, Non Drop, Lifetime Guarantee",
                           rate=Decimal("1.2345"), min=100, max=1000000)
    customer = CustomerFactory(funds=Decimal(funds))

    def place(service, **data) -> Order:
        return order_create(customer=customer, service=service, data=data, source=Source.WEB)

    completed = place(followers, link=LONG_LINK, quantity="1500")
    in_progress = place(views, link="https://youtube.com/watch?v=dQw4w9WgXcQ", quantity="10000")
    place(comments, link="https://instagram.com/p/C0ffee", comments="Love it!\nSo pretty\nWow\nNice\nGreat")
    pending = place(followers, link="https://instagram.com/dewi.shop", quantity="163", runs="3", interval="30")
    Order.objects.filter(pk=completed.pk).update(status=Status.COMPLETED, stage=Stage.FINAL, upstream_id="101",
                                                 start_count=1200, remains=0)
    Order.objects.filter(pk=in_progress.pk).update(status=Status.IN_PROGRESS, stage=Stage.SENT, upstream_id="102",
                                                   start_count=50)
    Refill.objects.create(order=completed, status=RequestStatus.REJECTED, stage=RequestStage.FAILED,
                          error=REFILL_REASON)
    Refill.objects.create(order=completed, status=RequestStatus.COMPLETED, stage=RequestStage.FINAL, upstream_id="7")
    CancelRequest.objects.create(order=in_progress, status=RequestStatus.REJECTED, stage=RequestStage.FINAL,
                                 upstream_id="9", error=CANCEL_REASON)
    wallet = PaymentRequest.objects.create(customer=customer, amount=Decimal("25"), method="e_wallet",
                                           reference="OVO-123456")
    payment_request_approve(payment_request_id=wallet.pk)
    PaymentRequest.objects.create(customer=customer, amount=Decimal("10.5"), method="bank_transfer",
                                  reference="BCA-778812-" + "9" * 60)
    gateway = Gateway.objects.create(name="demo-card", kind="stripe", title="Card (demo)", currency="USD",
                                     credentials={"secret_key": "sk_test", "webhook_secret": "whsec_test"})
    Deposit.objects.create(customer=customer, gateway=gateway, amount=Decimal("20"), pay_amount=Decimal("20.5"),
                           currency="USD", fee=Decimal("0.5"), credit_amount=Decimal("20"),
                           status=Deposit.Status.EXPIRED)
    for order in (completed, in_progress, pending):
        order.refresh_from_db()
    customer.refresh_from_db()
    return Shop(customer=customer, followers=followers, views=views, comments=comments, mentions=mentions,
                completed=completed, in_progress=in_progress, pending=pending)
