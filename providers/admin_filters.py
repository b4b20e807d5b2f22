"""List filters of the provider admin that the admin home links to."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from providers import health

# By the rules of providers.health, applied to each provider: a panel has a handful of providers, and the
# rules stay in one place instead of being written again as SQL.
CONDITIONS = {
    "low_balance": ("Low balance", lambda provider, now: health.provider_balance_is_low(provider)),
    "circuit_open": ("Circuit open", lambda provider, now: health.provider_circuit_open(provider, now=now)),
    "paused": ("Paused (429)", lambda provider, now: health.provider_paused(provider, now=now)),
}


def providers_matching(providers, condition: str, *, now) -> list:
    check = CONDITIONS[condition][1]
    return [provider for provider in providers if check(provider, now)]


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _check) in CONDITIONS.items()]

    def queryset(self, request, queryset):
        if self.value() not in CONDITIONS:
            return queryset
        matching = providers_matching(queryset, self.value(), now=timezone.now())
        return queryset.filter(pk__in=[provider.pk for provider in matching])
