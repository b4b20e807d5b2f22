"""Sign up, sign in (password, then a second factor when the account has one), sign out, password reset."""

from __future__ import annotations

import time

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model, login
from django.contrib.auth import views as auth_views
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.crypto import constant_time_compare
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_static.models import StaticDevice

from accounts.services import customer_create
from panel.web import throttle, two_factor
from panel.web.forms import LoginForm, SecondFactorForm, SignupForm
from panel.web.views.account import NEW_KEY_SESSION, SIGNED_UP_SESSION
from panel.web.views.common import safe_next

# Between the password and the code, the session holds who is signing in (not signed in yet).
PENDING_SESSION = "pending_second_factor"
PENDING_SECONDS = 10 * 60
# Names nobody may sign up with; they get the same answer as a taken name.
RESERVED_USERNAMES = frozenset({"admin", "administrator", "root", "staff", "support", "help", "billing",
                                "security", "system", "api", "panel", "owner", "moderator"})
USERNAME_UNAVAILABLE = gettext_lazy("This username is not available. Choose another one.")


def password_accepted(request, user, *, next_url: str) -> HttpResponseRedirect:
    """What follows a right password: the second step when the account has one, else signed in.

    Staff without a device are signed in without access to the admin and sent to set one up.
    """
    if two_factor.has_two_factor(user):
        request.session.cycle_key()  # a fresh session id before it names anyone
        request.session[PENDING_SESSION] = {"user": user.pk, "backend": user.backend, "next": next_url,
                                            "at": int(time.time()), "hash": user.get_session_auth_hash()}
        return redirect(f"{reverse('login_verify')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
    login(request, user)
    if user.is_staff:
        response = redirect(f"{reverse('security_setup')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
    else:
        response = HttpResponseRedirect(next_url)
    throttle.remember_device(request, response, user.get_username())
    return response


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        return password_accepted(self.request, form.get_user(), next_url=self.get_success_url())


def _pending_user(request):
    """Who passed the password step in this session and may give a code now, or None."""
    pending = request.session.get(PENDING_SESSION)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = get_user_model()._default_manager.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or not constant_time_compare(pending.get("hash", ""), user.get_session_auth_hash()):
        return None, None  # gone, or the password changed since it was given
    user.backend = pending.get("backend") or settings.AUTHENTICATION_BACKENDS[0]
    return user, pending


@sensitive_post_parameters("code")
@never_cache
@csrf_protect
def login_verify(request):
    """The second step: a code for the account whose password was just given in this session.

    A signed-in user with a device who has not used it in this session (a session from before it was set
    up) gives a code here too, to reach what needs one (the admin).
    """
    user, pending = _pending_user(request)
    signed_in = user is None
    if signed_in:
        user = request.user
        if not user.is_authenticated or not two_factor.has_two_factor(user):
            return redirect("login")
        if user.is_verified():
            return HttpResponseRedirect(safe_next(request, reverse("dashboard")))
    form = SecondFactorForm(request.POST or None, request=request, user=user)
    if request.method == "POST" and form.is_valid():
        next_url = pending["next"] if pending else safe_next(request, reverse("dashboard"))
        if not signed_in:
            del request.session[PENDING_SESSION]
            login(request, user, backend=user.backend)
        django_otp.login(request, form.device)
        if isinstance(form.device, StaticDevice):
            left = two_factor.backup_codes_left(user)
            messages.warning(request, _("You signed in with a backup code; %(left)s are left. Make new ones on "
                                        "the Security page if you are running low.") % {"left": left})
        response = HttpResponseRedirect(next_url)
        throttle.remember_device(request, response, user.get_username())
        return response
    return render(request, "registration/login_verify.html", {
        "form": form, REDIRECT_FIELD_NAME: request.GET.get(REDIRECT_FIELD_NAME, ""),
    })


@sensitive_post_parameters("password1", "password2")
def signup(request):
    """Signing up. Whether a username is free is answered only once everything else is right and the
    attempt has been counted against the client's address, and a reserved name gets the same answer."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        if not throttle.rate_hit(scope="signup-ip", subject=throttle.client_ip(request),
                                 limit=settings.SIGNUPS_PER_IP_PER_HOUR):
            form.add_error(None, _("Too many sign-ups from your address. Try again in an hour."))
            status = 429
        elif (username.lower() in RESERVED_USERNAMES
              or get_user_model().objects.filter(username__iexact=username).exists()):
            form.add_error("username", USERNAME_UNAVAILABLE)
        else:
            try:
                customer, raw_key = customer_create(
                    username=username, password=form.cleaned_data["password1"], email=form.cleaned_data["email"],
                )
            except IntegrityError:
                # Someone took the name between the check and the insert.
                form.add_error("username", USERNAME_UNAVAILABLE)
            else:
                login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
                # The key exists only now, in full: the dashboard shows it once (we keep only its digest).
                request.session[NEW_KEY_SESSION] = raw_key
                request.session[SIGNED_UP_SESSION] = True
                messages.success(request, _("Welcome! Your account is ready. Add funds to place your first order."))
                response = redirect("dashboard")
                throttle.remember_device(request, response, customer.user.get_username())
                return response
    return render(request, "registration/signup.html", {"form": form}, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, with mails limited per client address and per email address.

    Over the email's limit the answer is the same "sent" page, without a mail: it says nothing about
    whether the address has an account.
    """

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "email/password_reset.html"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        if not throttle.rate_hit(scope="reset-ip", subject=throttle.client_ip(self.request),
                                 limit=settings.PASSWORD_RESETS_PER_IP_PER_HOUR):
            form.add_error(None, _("Too many reset requests from your address. Try again in an hour."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        if not throttle.rate_hit(scope="reset-email", subject=form.cleaned_data["email"].strip().lower(),
                                 limit=settings.PASSWORD_RESETS_PER_EMAIL_PER_HOUR):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="registration/password_reset_confirm.html", success_url=reverse_lazy("password_reset_complete")
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="registration/password_reset_complete.html"
)
logout = auth_views.LogoutView.as_view()
