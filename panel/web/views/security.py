"""Two-factor sign-in for the signed-in user: turn it on, make new backup codes, turn it off.

Open to every signed-in user, customers and staff alike: staff come here from the admin, which stays
closed to them until they have a device and have used it in this session.
"""

from __future__ import annotations

import django_otp
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from panel.web import two_factor
from panel.web.forms import SecondFactorForm, TwoFactorDisableForm, TwoFactorSetupForm
from panel.web.views.common import safe_next

NEW_CODES_SESSION = "new_backup_codes"


def _security_url(next_url: str = "") -> str:
    url = reverse("security")
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}" if next_url else url


def _page(request, *, codes_form=None, disable_form=None, status: int = 200):
    user = request.user
    enabled = two_factor.has_two_factor(user)
    return render(request, "web/security.html", {
        "enabled": enabled,
        "codes_left": two_factor.backup_codes_left(user) if enabled else 0,
        "new_codes": request.session.pop(NEW_CODES_SESSION, None),  # shown once, then gone
        "next": safe_next(request, ""),
        "codes_form": codes_form or SecondFactorForm(request=request, user=user, prefix="codes"),
        "disable_form": disable_form or TwoFactorDisableForm(request=request, user=user, prefix="disable"),
    }, status=status)


@never_cache
@login_required
def security(request):
    return _page(request)


@sensitive_post_parameters()
@never_cache
@login_required
def security_setup(request):
    """Scan the QR code (or type the secret), then confirm with a code; backup codes are shown next."""
    user = request.user
    next_url = safe_next(request, "")
    if two_factor.has_two_factor(user):
        return redirect(_security_url(next_url))
    device = two_factor.setup_device(user=user)
    form = TwoFactorSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = two_factor.enrol_confirm(user=user, device_id=device.pk, code=form.cleaned_data["code"])
        if result is None:
            form.add_error("code", _("That code is not right. Check the time on your phone and try again."))
        else:
            device, codes = result
            django_otp.login(request, device)
            request.session[NEW_CODES_SESSION] = codes
            messages.success(request, _("Two-factor sign-in is on. Keep your backup codes somewhere safe."))
            return redirect(_security_url(next_url))
    return render(request, "web/security_setup.html", {
        "form": form, "qr_svg": two_factor.qr_svg(device), "secret": two_factor.secret_text(device),
        "next": next_url, "staff_required": user.is_staff,
    }, status=400 if form.is_bound and form.errors else 200)


@sensitive_post_parameters()
@never_cache
@require_POST
@login_required
def security_backup_codes(request):
    """New backup codes (the old ones stop working), after a code from the app or a backup code."""
    user = request.user
    if not two_factor.has_two_factor(user):
        return redirect("security")
    form = SecondFactorForm(request.POST, request=request, user=user, prefix="codes")
    if not form.is_valid():
        return _page(request, codes_form=form, status=400)
    request.session[NEW_CODES_SESSION] = two_factor.backup_codes_generate(user=user)
    messages.success(request, _("New backup codes were made. The old ones no longer work."))
    return redirect("security")


@sensitive_post_parameters()
@never_cache
@require_POST
@login_required
def security_disable(request):
    """Turn two-factor sign-in off: the password and a code. Staff accounts must keep it."""
    user = request.user
    if not two_factor.has_two_factor(user):
        return redirect("security")
    if user.is_staff:
        messages.error(request, _("Staff accounts must keep two-factor sign-in. An operator can reset a lost "
                                  "device."))
        return redirect("security")
    form = TwoFactorDisableForm(request.POST, request=request, user=user, prefix="disable")
    if not form.is_valid():
        return _page(request, disable_form=form, status=400)
    two_factor.devices_delete(user=user)
    messages.success(request, _("Two-factor sign-in is off."))
    return redirect("security")
