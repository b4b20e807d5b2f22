"""List filters of the order admin that the admin home links to."""

from __future__ import annotations

from django.contrib import admin


class FlaggedFilter(admin.SimpleListFilter):
    """Orders with an attention note (an id the provider keeps refusing, an unknown status word, ...)."""

    title = "attention note"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged"), ("no", "Not flagged")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(attention="")
        if self.value() == "no":
            return queryset.filter(attention="")
        return queryset
