"""Two-factor sign-in: an authenticator app (TOTP, django-otp) and one-time backup codes.

A user has two-factor sign-in when they have a confirmed TOTP device. Backup codes live in django-otp's
static device, but only as digests: a code is shown once, when made, and its scrypt digest (salted
with the user's id) is what the table holds, so a copy of the database does not hand out codes.
Staff must have a device and have used it in the current session before the admin opens
(panel/urls.py).
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode

import segno
from django.db import transaction
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

BACKUP_CODE_COUNT = 10
# 12 characters of a 31-letter alphabet (no 0/o, 1/l/i): about 59 bits, typed as three groups of four.
BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
BACKUP_CODE_LENGTH = 12
APP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"


def has_two_factor(user) -> bool:
    return user.is_authenticated and TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def username_has_two_factor(username: str) -> bool:
    """Whether the account signing in as `username` has two-factor sign-in (no password is checked)."""
    return TOTPDevice.objects.filter(user__username=username, confirmed=True).exists()


# --- enrolment --------------------------------------------------------------------------------------


def setup_device(*, user) -> TOTPDevice:
    """The unconfirmed device being set up: the same secret across reloads of the setup page."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// link as an SVG QR code, made here: the secret never leaves the server."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#111827", light="#ffffff",
                                                               omitsize=False)


def enrol_confirm(*, user, device_id: int, code: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the device being set up with a code from the app; returns it and new backup codes.

    Other unconfirmed devices of the user are removed; None when the code is wrong.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
        if device is None or not _is_totp(code) or not device.verify_token(_digits(code)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _backup_codes_replace(user=user)
    return device, codes


def backup_codes_generate(*, user) -> list[str]:
    """New backup codes for `user`, replacing the old ones; the plain codes are returned once."""
    with transaction.atomic():
        return _backup_codes_replace(user=user)


def backup_codes_left(user) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device else 0


def devices_delete(*, user) -> int:
    """Remove every second factor of `user` (turning it off, or an operator's reset). Returns how many."""
    with transaction.atomic():
        count = 0
        for device in devices_for_user(user, confirmed=None):
            device.delete()
            count += 1
    return count


def _backup_codes_replace(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = ["".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
             for _ in range(BACKUP_CODE_COUNT)]
    device.token_set.bulk_create([device.token_set.model(device=device, token=_backup_digest(user.pk, code))
                                  for code in codes])
    return [f"{code[0:4]}-{code[4:8]}-{code[8:12]}" for code in codes]


def _backup_digest(user_id: int, code: str) -> str:
    # 16 hex characters: django-otp's token column is 16 wide. scrypt makes each guess against a stolen
    # table cost memory and time; the user's id as salt makes each table row its own problem.
    return hashlib.scrypt(code.encode(), salt=f"panel-backup-code:{user_id}".encode(), n=2 ** 14, r=8, p=1,
                          dklen=8).hex()


# --- verification -----------------------------------------------------------------------------------


def _digits(code: str) -> str:
    return "".join(code.split())


def _is_totp(code: str) -> bool:
    compact = _digits(code)
    return len(compact) == 6 and compact.isascii() and compact.isdigit()


def _backup_normal(code: str) -> str | None:
    compact = "".join(ch for ch in code.lower() if ch not in " -")
    if len(compact) != BACKUP_CODE_LENGTH or any(ch not in BACKUP_CODE_ALPHABET for ch in compact):
        return None
    return compact


def code_verify(*, user, code: str):
    """The device that accepts `code` (a code from the app, or an unused backup code, which is used up).

    Devices are locked for the check (django-otp's for_verify), so one code is accepted once, however
    many requests bring it at the same time. None when no device accepts it.
    """
    with transaction.atomic():
        if _is_totp(code):
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(_digits(code)):
                    return device
            return None
        backup = _backup_normal(code)
        if backup is None:
            return None
        for device in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(_backup_digest(user.pk, backup)):
                return device
    return None
