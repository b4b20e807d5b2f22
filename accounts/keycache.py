"""API key → customer, cached: /api/v2 looks its key up on every request.

An entry, keyed by the key's digest, holds what the API needs to know about the customer before it
touches the database: the id, the user's id and the discount. The balance is never cached: the
customer the cache gives back has it deferred, so reading it loads it fresh.

An entry goes as soon as the answer it holds may be wrong: a new key (`api_key_generate`), a customer or
user switched off, a changed discount (the signal receivers below, for saves from anywhere, the admin
included). "Goes" means replaced by a short-lived tombstone rather than deleted, and entries are written
with `add`, never `set`: a request that read the customer just before an admin's change committed cannot
put the old answer back after the change removed it. ENTRY_SECONDS bounds how long an entry lives
in any case, should a change ever reach the database some other way (a bulk `update()`, SQL by hand).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Customer

ENTRY_SECONDS = 300
# Long enough for any request that read the customer before a change to have finished writing its entry.
TOMBSTONE_SECONDS = 30
_GONE = "gone"
# The fields an entry depends on: a save that touches none of them (a balance moving) keeps the entry. A new
# key is not among them: no one can have cached an answer for it, and `api_key_generate` forgets the old one.
_CUSTOMER_FIELDS = frozenset({"is_active", "discount_percent", "user", "user_id"})
_USER_FIELDS = frozenset({"is_active"})


def cache_key(digest: str) -> str:
    return f"api-key-customer:{digest}"


def cached_customer(digest: str) -> Customer | None:
    """The active customer of the key with this digest, from the cache; None when it has no entry."""
    entry = cache.get(cache_key(digest))
    if not isinstance(entry, tuple):
        return None
    customer_id, user_id, discount = entry
    # Built as a row read from the database with only these columns: any other field (the balance) is
    # deferred and loads fresh when read.
    return Customer.from_db("default", ["id", "user_id", "discount_percent"],
                            [customer_id, user_id, Decimal(discount)])


def remember(customer: Customer) -> None:
    """Cache an active customer found by its key (unless a tombstone says it just changed)."""
    if customer.api_key_digest:
        cache.add(cache_key(customer.api_key_digest),
                  (customer.pk, customer.user_id, str(customer.discount_percent)), ENTRY_SECONDS)


def forget(digest: str) -> None:
    """The key's entry is no longer right: now, and again once the change is committed (a request may
    have cached the old state between the two)."""
    if not digest:
        return

    def tombstone() -> None:
        cache.set(cache_key(digest), _GONE, TOMBSTONE_SECONDS)

    tombstone()
    transaction.on_commit(tombstone)


@receiver(post_save, sender=Customer, dispatch_uid="keycache_customer_saved")
def _customer_saved(sender, instance: Customer, update_fields=None, **kwargs) -> None:
    if update_fields is None or _CUSTOMER_FIELDS.intersection(update_fields):
        forget(instance.api_key_digest)


@receiver(post_delete, sender=Customer, dispatch_uid="keycache_customer_deleted")
def _customer_deleted(sender, instance: Customer, **kwargs) -> None:
    forget(instance.api_key_digest)


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not _USER_FIELDS.intersection(update_fields):
        return  # a sign-in's last_login, a new password: the key's answer stays the same
    for digest in Customer.objects.filter(user_id=instance.pk).values_list("api_key_digest", flat=True):
        forget(digest)


post_save.connect(_user_changed, sender=get_user_model(), dispatch_uid="keycache_user_saved")
post_delete.connect(_user_changed, sender=get_user_model(), dispatch_uid="keycache_user_deleted")
