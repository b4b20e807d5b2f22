from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp import devices_for_user

from audit.services import audit_record


class Command(BaseCommand):
    help = ("Remove a user's second factor (authenticator app and backup codes), for someone who lost both. "
            "Staff set up a new device at their next sign-in; customers sign in with the password alone.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", default="", help="Why, for the audit log (e.g. the support ticket)")

    def handle(self, *args, username, reason, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        with transaction.atomic():
            devices = list(devices_for_user(user, confirmed=None))  # the app's device and the backup codes
            for device in devices:
                device.delete()
            removed = len(devices)
            if removed:
                customer = getattr(user, "customer", None)
                audit_record(action="user.two_factor_reset", subject_type="user", subject_id=user.pk,
                             customer_id=customer.pk if customer else None, reason=reason or "reset_2fa command")
        if not removed:
            self.stdout.write(f"{username} has no second factor; nothing to reset.")
            return
        then = "sets up a new device at the next sign-in" if user.is_staff else "signs in with the password alone"
        self.stdout.write(f"Removed {removed} device(s) of {username}; the user {then}. Their current sessions "
                          f"stay signed in but no longer count as verified.")
