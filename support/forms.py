"""Ticket forms. They only shape input; limits and ownership are checked by support.services."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from support.models import Ticket

_ORDER_ID = re.compile(r"#?([0-9]{1,18})", re.ASCII)


def parse_order_ids(text: str) -> list[int]:
    """`12, 13 #14` -> [12, 13, 14]; ValueError for anything else than order ids and separators."""
    ids = []
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        match = _ORDER_ID.fullmatch(part)
        if match is None:
            raise ValueError(part)
        ids.append(int(match.group(1)))
    return list(dict.fromkeys(ids))


def _message_field() -> forms.CharField:
    # No max_length: the limit (SUPPORT_MESSAGE_MAX_LENGTH) is the service's, and its message says how long
    # the text is; a browser-side maxlength would cut a pasted text silently instead.
    return forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}))


class TicketForm(forms.Form):
    subject = forms.ChoiceField(label=_("Subject"), choices=[("", "—"), *Ticket.Subject.choices])
    orders = forms.CharField(
        label=_("Order IDs"), required=False, max_length=1000,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "1024, 1025"}),
        help_text=_("Optional: the orders this is about, separated by commas or spaces."),
    )
    message = _message_field()

    def clean_orders(self) -> list[int]:
        try:
            return parse_order_ids(self.cleaned_data.get("orders") or "")
        except ValueError:
            raise ValidationError(_("Write order IDs as numbers separated by commas or spaces."),
                                  code="invalid") from None


class ReplyForm(forms.Form):
    message = _message_field()


class StaffReplyForm(forms.Form):
    """The admin's reply box. The canned-reply picker beside it only fills `message` in the browser."""

    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))
    internal = forms.BooleanField(label="Internal note (staff only, no mail)", required=False)
    close = forms.BooleanField(label="Close the ticket after this message", required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why: kept in the audit log with your name.")
