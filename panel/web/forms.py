"""Browser forms. They only shape input; the rules live in accounts.services and orders.validation."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from notify.kinds import CUSTOMER_KINDS
from panel.web import order_help, throttle, two_factor
from providers.models import Service
from providers.ordertypes import FIELDS, ORDER_TYPES, SUBSCRIPTION_DELAYS

PAYMENT_METHODS = [
    ("bank_transfer", _("Bank transfer")),
    ("e_wallet", _("E-wallet")),
    ("crypto", _("Cryptocurrency")),
    ("paypal", _("PayPal")),
    ("other", _("Other")),
]
MAX_DEPOSIT = Decimal("1000000")


LOCKED_MESSAGE = _("Too many failed sign-in attempts. Try again in %(minutes)s minutes.")


class SaysNoInsteadOfCutting:
    """No `maxlength` on the inputs: a browser cuts pasted text at it without a word (a 5,000-character link
    became its first 2,000), so the server checks the length and says so next to the field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)


def _locked_error() -> ValidationError:
    return ValidationError(LOCKED_MESSAGE, code="locked", params={"minutes": throttle.lockout_minutes()})


class ThrottledLoginMixin:
    """Counts each password check in panel.web.throttle before it is made, and refuses it when locked.

    The place is taken first, so concurrent guesses cannot all pass a check that none has counted yet.
    """

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        if not (username and password):
            return super().clean()
        attempt = throttle.login_attempt(request=self.request, username=username,
                                         second_factor=two_factor.username_has_two_factor(username))
        if not attempt.allowed:
            raise _locked_error()
        try:
            cleaned = super().clean()
        except ValidationError:
            attempt.failed()
            raise
        attempt.succeeded()
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """Django's login form, throttled."""


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's login form (staff only), throttled on the same counters as the customers' one."""


class SecondFactorForm(forms.Form):
    """A code from the authenticator app or a backup code, checked for `user` through the same counters."""

    code = forms.CharField(
        label=_("Code"), max_length=32, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
        help_text=_("The 6-digit code from your authenticator app, or one of your backup codes."),
    )
    error_messages = {"invalid_code": _("That code is not right. Check the time on your phone and try again.")}

    def __init__(self, *args, request, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = user
        self.device = None

    def clean(self):
        cleaned = super().clean()
        code = cleaned.get("code")
        if not code:
            return cleaned
        attempt = throttle.otp_attempt(request=self.request, user=self.user)
        if not attempt.allowed:
            raise _locked_error()
        self.device = two_factor.code_verify(user=self.user, code=code)
        if self.device is None:
            attempt.failed()
            raise ValidationError(self.error_messages["invalid_code"], code="invalid_code")
        attempt.succeeded()
        return cleaned


class TwoFactorSetupForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the app"), max_length=16, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TwoFactorDisableForm(SecondFactorForm):
    """Turning two-factor sign-in off: the password and a code, each through its counters."""

    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    field_order = ["password", "code"]

    def clean(self):
        password = self.cleaned_data.get("password")
        if password:
            username = self.user.get_username()
            attempt = throttle.login_attempt(request=self.request, username=username, second_factor=True)
            if not attempt.allowed:
                raise _locked_error()
            if not self.user.check_password(password):
                attempt.failed()
                raise ValidationError(_("Your password was entered incorrectly."), code="password_incorrect")
            attempt.succeeded()
        return super().clean()


class SignupForm(SaysNoInsteadOfCutting, forms.Form):
    """Shape and password rules only. Whether the username is free is asked last, by the view, once the
    attempt has been counted against the address (see panel.web.views.auth.signup)."""

    username = forms.RegexField(
        label=_("Username"), max_length=40, regex=r"^[\w.@+-]+\Z",
        help_text=_("Letters, digits and @ . + - _ only."),
        error_messages={"invalid": _("Use only letters, digits and @ . + - _")},
    )
    email = forms.EmailField(label=_("Email"))
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password again"), strip=False, widget=forms.PasswordInput)

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            user = get_user_model()(username=cleaned.get("username", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(p1, user)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


class TimezoneForm(forms.Form):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=_timezone_choices)


class MailPreferencesForm(forms.Form):
    """One checkbox per mail a customer may turn off (or on, for opt-in ones); security mails always go."""

    language = forms.ChoiceField(label=_("Language of mails"), choices=settings.LANGUAGES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in CUSTOMER_KINDS.values():
            self.fields[f"mail_{kind.name}"] = forms.BooleanField(label=kind.label, required=False)

    @staticmethod
    def initial_for(*, wanted: dict[str, bool], language: str) -> dict:
        return {"language": language, **{f"mail_{name}": on for name, on in wanted.items()}}

    def wanted(self) -> set[str]:
        return {name for name in CUSTOMER_KINDS if self.cleaned_data.get(f"mail_{name}")}


class PaymentRequestForm(SaysNoInsteadOfCutting, forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"), min_value=Decimal("0.01"), max_value=MAX_DEPOSIT, max_digits=12, decimal_places=2
    )
    method = forms.ChoiceField(label=_("Payment method"), choices=PAYMENT_METHODS)
    reference = forms.CharField(
        label=_("Reference"), max_length=200, required=False,
        help_text=_("Transaction id or sender name, so we can match your payment."),
    )


class DepositForm(forms.Form):
    """Add funds through a gateway: `gateway` is the gateway's name, `amount` in its currency."""

    gateway = forms.ChoiceField(label=_("Payment method"))
    amount = forms.DecimalField(
        label=_("Amount"), min_value=Decimal("0.01"), max_value=MAX_DEPOSIT, max_digits=12, decimal_places=2
    )

    def __init__(self, *args, gateways, **kwargs):
        super().__init__(*args, **kwargs)
        self.gateways = {g.name: g for g in gateways}
        self.fields["gateway"].choices = [(g.name, str(g)) for g in gateways]

    def clean_gateway(self):
        return self.gateways[self.cleaned_data["gateway"]]


class ApiKeyConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my current key stops working immediately."), required=True
    )


class MassOrderForm(SaysNoInsteadOfCutting, forms.Form):
    orders = forms.CharField(
        label=_("Orders"),
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("One order per line: service ID | link | quantity"), max_length=200_000,
    )

    def __init__(self, *args, example: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if example:
            self.fields["orders"].widget.attrs["placeholder"] = "\n".join(example)


def _order_field(name: str, *, required: bool, order_type: str) -> forms.Field:
    """A form field for one entry of the types table. All text, and no length limit: orders.validation does
    the checking, and its message shows next to the field (a `maxlength` would cut instead)."""
    spec = FIELDS[name]
    attrs = {"data-field": name}
    label = _(spec.label)
    help_text = order_help.field_help(name, order_type)
    if spec.kind == "lines":
        widget = forms.Textarea(attrs={**attrs, "rows": 6})
    elif spec.kind == "int":
        widget = forms.NumberInput(attrs={**attrs, "min": 0, "inputmode": "numeric"})
    elif spec.kind == "url":
        widget = forms.TextInput(attrs={**attrs, "inputmode": "url", "placeholder": "https://"})
    elif spec.kind == "date":
        widget = forms.TextInput(attrs={**attrs, "placeholder": "31/12/2026"})
    elif spec.kind == "choice":
        choices = [("", "—")] + [(str(d), str(d)) for d in SUBSCRIPTION_DELAYS]
        return forms.ChoiceField(label=label, choices=choices, required=False, help_text=help_text,
                                 widget=forms.Select(attrs=attrs))
    else:
        widget = forms.TextInput(attrs=attrs)
    field = forms.CharField(label=label, required=False, help_text=help_text, widget=widget,
                            strip=spec.kind != "lines")
    field.order_required = required
    return field


class OrderForm(forms.Form):
    """The fields of `service`'s type, from providers.ordertypes; drip-feed only where the service allows it."""

    def __init__(self, *args, service: Service, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        self.order_type = ORDER_TYPES[service.type]
        for name in self.order_type.all_fields:
            if name in ("runs", "interval") and not service.dripfeed:
                continue
            self.fields[name] = _order_field(name, required=name in self.order_type.required,
                                             order_type=self.order_type.name)
        self.dripfeed_fields = [n for n in ("runs", "interval") if n in self.fields]

    def main_fields(self):
        return [self[name] for name in self.fields if name not in self.dripfeed_fields]

    def drip_fields(self):
        return [self[name] for name in self.dripfeed_fields]

    def error_field(self, name: str | None) -> str | None:
        """The form field an OrderInputError names, or None for a form-wide error."""
        return name if name in self.fields else None
