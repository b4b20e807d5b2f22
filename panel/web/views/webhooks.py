"""The API page's status webhooks: add a URL (its secret shown once), remove, turn back on, send a test event."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from panel.web.forms import SaysNoInsteadOfCutting
from panel.web.views.common import customer_required
from webhooks import selectors, services
from webhooks.models import MAX_ENDPOINTS

NEW_SECRET_SESSION = "new_webhook_secret"


class WebhookUrlForm(SaysNoInsteadOfCutting, forms.Form):
    url = forms.CharField(label=gettext_lazy("Webhook URL"), max_length=services.URL_MAX_LENGTH,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/panel-webhook"}))


def webhooks_context(request, *, form: WebhookUrlForm | None = None) -> dict:
    """What the API page shows about webhooks; the new secret only on the first view after it was made."""
    endpoints = selectors.endpoints_for_customer(customer=request.customer)
    return {
        "webhook_endpoints": endpoints,
        "webhook_form": form or WebhookUrlForm(),
        "webhook_can_add": len(endpoints) < MAX_ENDPOINTS,
        "webhook_max": MAX_ENDPOINTS,
        "webhook_new_secret": request.session.pop(NEW_SECRET_SESSION, None),
        "webhook_deliveries": selectors.deliveries_for_customer(customer=request.customer),
    }


def _back():
    return redirect(reverse("api_access") + "#webhooks")


@require_POST
@customer_required
def webhook_add(request):
    from panel.web.views.account import api_page

    form = WebhookUrlForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.endpoint_create(customer=request.customer, url=form.cleaned_data["url"])
        except services.WebhookLimitReached:
            form.add_error("url", _("You can have at most %(max)s webhook URLs. Remove one first.")
                           % {"max": MAX_ENDPOINTS})
        except services.WebhookUrlRefused as refused:
            form.add_error("url", _("This URL cannot receive webhooks: %(reason)s.") % {"reason": refused.reason})
        else:
            request.session[NEW_SECRET_SESSION] = {"endpoint": endpoint.pk, "secret": endpoint.secret}
            messages.success(request, _("Webhook URL added. Copy its signing secret now."))
            return _back()
    return api_page(request, webhook_form=form, status=400)


@require_POST
@customer_required
def webhook_remove(request, endpoint_id: int):
    if services.endpoint_remove(customer=request.customer, endpoint_id=endpoint_id):
        messages.success(request, _("Webhook URL removed."))
    return _back()


@require_POST
@customer_required
def webhook_enable(request, endpoint_id: int):
    if services.endpoint_enable(customer=request.customer, endpoint_id=endpoint_id):
        messages.success(request, _("Webhook URL turned back on."))
    return _back()


@require_POST
@customer_required
def webhook_test(request, endpoint_id: int):
    if services.endpoint_send_test(customer=request.customer, endpoint_id=endpoint_id):
        messages.success(request, _("Test event queued: its result shows in the delivery log in a few seconds."))
    else:
        messages.error(request, _("Only an active webhook URL can get a test event."))
    return _back()
