"""The public service-updates page and its Atom feed, and dismissing a dashboard announcement."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from news.changes import KIND_CHOICES, PublicChange, changes_public, public_change
from news.services import AnnouncementNotFound, announcement_dismiss
from panel.templatetags.web_format import money
from panel.web.views.common import customer_required, paginate, query_without_page, safe_next
from providers.models import Category
from providers.selectors import services_orderable

# Feed readers poll often: the latest changes are enough, older ones stay on the page.
FEED_ITEMS = 50


def _categories() -> QuerySet[Category]:
    """Categories with something to order: the ones a visitor may filter by."""
    return Category.objects.filter(Exists(services_orderable().filter(category=OuterRef("pk"))))


class UpdatesFilterForm(forms.Form):
    category = forms.TypedChoiceField(label=gettext_lazy("Category"), required=False, coerce=int,
                                      empty_value=None)
    kind = forms.ChoiceField(label=pgettext_lazy("service update", "Change"), required=False,
                             choices=[("", gettext_lazy("All changes")), *KIND_CHOICES])

    def __init__(self, data, *, categories: list[Category]):
        super().__init__(data)
        self.fields["category"].choices = [("", _("All categories"))] + [(c.pk, c.name) for c in categories]

    def filters(self) -> dict[str, object]:
        """What `changes_public` is narrowed by: every valid field (a bad one is left out, and shown)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {"category_id": cleaned.get("category"), "kind": cleaned.get("kind") or None}


def _filter_form(request) -> UpdatesFilterForm:
    return UpdatesFilterForm(request.GET or None, categories=list(_categories()))


def service_updates(request):
    """New services, price changes (sale prices only) and services disabled or back, for everyone."""
    form = _filter_form(request)
    filters = form.filters()
    page = paginate(request, changes_public(**filters))
    query = query_without_page(request)
    return render(request, "web/updates.html", {
        "form": form, "page": page, "changes": [public_change(row) for row in page.object_list],
        "query": query, "feed_url": reverse("service_updates_feed") + (f"?{query}" if query else ""),
    }, status=400 if form.errors else 200)


class ServiceUpdatesFeed(Feed):
    """The updates page as Atom, with the same filters (`?category=ID&kind=price_down`)."""

    feed_type = Atom1Feed

    def __call__(self, request, *args, **kwargs):
        form = _filter_form(request)
        request.updates_filters = form.filters()
        if form.errors:
            return HttpResponseBadRequest(" ".join(str(e) for errors in form.errors.values() for e in errors),
                                          content_type="text/plain; charset=utf-8")
        return super().__call__(request, *args, **kwargs)

    def get_object(self, request, *args, **kwargs):
        return {"filters": request.updates_filters, "query": query_without_page(request)}

    def title(self, obj) -> str:
        return _("%(panel)s: service updates") % {"panel": settings.PANEL_NAME}

    def subtitle(self, obj) -> str:
        return _("New services, price changes and services disabled or enabled again.")

    def link(self, obj) -> str:
        return reverse("service_updates") + (f"?{obj['query']}" if obj["query"] else "")

    def items(self, obj) -> list[PublicChange]:
        return [public_change(row) for row in changes_public(**obj["filters"])[:FEED_ITEMS]]

    def item_title(self, item: PublicChange) -> str:
        return f"{item.kind_label}: #{item.service_id} {item.service_name}"

    def item_description(self, item: PublicChange) -> str:
        # Atom's summary is HTML to readers: the names come from upstream catalogues, so they are escaped.
        parts = [escape(item.category_name)]
        if item.old_rate is not None:
            parts.append(_("Price per 1000: %(old)s → %(new)s %(currency)s") % {
                "old": money(item.old_rate), "new": money(item.new_rate), "currency": settings.PANEL_CURRENCY})
        elif item.new_rate is not None:
            parts.append(_("Price per 1000: %(new)s %(currency)s") % {
                "new": money(item.new_rate), "currency": settings.PANEL_CURRENCY})
        return " · ".join(parts)

    def item_link(self, item: PublicChange) -> str:
        return f"{reverse('service_updates')}#change-{item.id}"

    def item_pubdate(self, item: PublicChange):
        return item.at

    def item_updateddate(self, item: PublicChange):
        return item.at

    def item_categories(self, item: PublicChange) -> list[str]:
        return [item.category_name]


service_updates_feed = ServiceUpdatesFeed()


@require_POST
@customer_required
def dismiss_announcement(request, announcement_id: int):
    try:
        announcement_dismiss(user=request.user, announcement_id=announcement_id, now=timezone.now())
    except AnnouncementNotFound:
        return render(request, "web/not_found.html", status=404)
    return redirect(safe_next(request, reverse("dashboard")))
