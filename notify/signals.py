"""The language a customer signs up (and first signs in) with becomes the language of their mails."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from notify.preferences import language_remember


@receiver(user_logged_in, dispatch_uid="notify.remember_language")
def remember_language(sender, request, user, **kwargs) -> None:
    from accounts.models import Customer

    language = getattr(request, "LANGUAGE_CODE", None) if request is not None else None
    customer_id = Customer.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    if language and customer_id is not None:
        # Only a first row: a customer who chose on the Account page keeps their choice.
        language_remember(customer_id=customer_id, language=language)
