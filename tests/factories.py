"""factory_boy factories for the panel's models. Money always enters through accounts.services."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from accounts import services as account_services
from accounts.models import Customer
from providers.models import Category, Provider, Service


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
