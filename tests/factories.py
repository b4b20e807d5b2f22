"""factory_boy factories for the panel's models. Money always enters through accounts.services."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import services as account_services
from accounts.models import Customer
from orders.models import Order, Source, Stage, Status
from providers.models import Category, Provider, Service
from providers.pricing import charge_for, customer_rate


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer with an API key; `funds=` credits an opening balance through the ledger."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)

    @factory.post_generation
    def api_key(obj, create, extracted, **kwargs):
        obj.raw_api_key = account_services.api_key_generate(customer=obj) if create else ""

    @factory.post_generation
    def funds(obj, create, extracted, **kwargs):
        if create and extracted:
            account_services.balance_deposit(customer_id=obj.pk, amount=Decimal(str(extracted)), note="factory")
            obj.refresh_from_db(fields=["balance"])


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"provider{n}")
    api_url = "http://127.0.0.1:9/api/v2"
    api_key = factory.Sequence(lambda n: f"upstream-key-{n}")
    currency = "USD"
    timeout_seconds = Decimal("5")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    provider = factory.SubFactory(ProviderFactory)
    upstream_service_id = factory.Sequence(lambda n: str(1000 + n))
    name = factory.Sequence(lambda n: f"Instagram Followers {n}")
    type = "Default"
    category = factory.SubFactory(CategoryFactory)
    upstream_rate = Decimal("0.90")
    rate = Decimal("1.20")
    min = 10
    max = 10000
    refill = True
    cancel = True
    dripfeed = False


class OrderFactory(factory.django.DjangoModelFactory):
    """An order already placed and paid, written straight to the database with its charge in the ledger.

    By default the charge is first deposited to the customer and then taken, so the customer's balance
    ends as it was and `check_ledger` finds the books sound; `deposit=False` takes it from the balance
    the customer already has (InsufficientFunds, and no order, if that does not cover it). `rate`
    defaults to the service's price for this customer and `charge` to `quantity` units at `rate`, as
    placing the order would set them; pass `stage`, `status`, `upstream_id`... for an order further on.
    No refund is recorded: give an order its refunds through orders.charges.
    """

    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    service = factory.SubFactory(ServiceFactory)
    provider = factory.SelfAttribute("service.provider")
    source = Source.API
    link = factory.Sequence(lambda n: f"https://instagram.com/p/order{n}")
    quantity = 1000
    rate = factory.LazyAttribute(
        lambda o: Decimal(customer_rate(service=o.service, discount_percent=o.customer.discount_percent)))
    charge = factory.LazyAttribute(lambda o: Decimal(charge_for(rate=o.rate, units=o.quantity)))
    stage = Stage.PAID
    status = Status.PENDING
    deposit = True

    @classmethod
    def _build(cls, model_class, *args, deposit=True, **kwargs):
        return super()._build(model_class, *args, **kwargs)

    @classmethod
    def _create(cls, model_class, *args, deposit=True, **kwargs):
        charge = Decimal(kwargs["charge"])
        with transaction.atomic():
            # As orders.services.order_create: the customer locked, the order stored, then charged.
            if deposit and charge:
                account_services.balance_deposit(customer_id=kwargs["customer"].pk, amount=charge,
                                                 note="factory: pays for an order")
            customer = account_services.lock_customer(kwargs["customer"].pk)
            order = super()._create(model_class, *args, **kwargs)
            if charge:
                account_services.balance_charge(customer=customer, order_id=order.pk, amount=charge)
        order.customer.refresh_from_db(fields=["balance"])
        return order
