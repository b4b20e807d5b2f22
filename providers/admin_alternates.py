"""A service's alternates in the admin: the inline on the service's page, and the "find alternates" action that
proposes candidates from the other providers' catalogues for the operator to confirm. Every change goes
through providers.alternates, which writes the audit row."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import OuterRef, Subquery
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse

from providers.alternates import (
    AlternateError,
    alternate_refusal,
    alternate_remove,
    alternate_set,
    alternates_propose,
    catalogue_entries,
)
from providers.models import Service, ServiceAlternate
from providers.pricing import format_money

INLINE_REASON = "Edited on the service's page"
_ENTRY_FIELDS = ("name", "type", "min", "max", "upstream_rate", "available_upstream")


class ServiceAlternateForm(forms.ModelForm):
    class Meta:
        model = ServiceAlternate
        fields = ("provider", "upstream_service_id", "priority")

    def clean(self):
        cleaned = super().clean()
        provider, upstream_id = cleaned.get("provider"), (cleaned.get("upstream_service_id") or "").strip()
        # The inline formset has set the service's id on the instance by now.
        service = Service.objects.filter(pk=self.instance.service_id).first()
        if service is not None and provider is not None and upstream_id and not cleaned.get("DELETE"):
            entry = catalogue_entries([(provider.pk, upstream_id)]).get((provider.pk, upstream_id))
            refusal = alternate_refusal(service, provider, entry, upstream_id)
            if refusal:
                raise forms.ValidationError(refusal)
        return cleaned


class AlternateFormSet(BaseInlineFormSet):
    def __init__(self, data=None, *args, **kwargs) -> None:
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        if data is not None and f"{prefix}-TOTAL_FORMS" not in data:
            # The service's form posted without the inline (a script, a page from before alternates existed):
            # read as "no change to the alternates" rather than refusing the whole form.
            data = data.copy()
            data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
        super().__init__(data, *args, **kwargs)


class ServiceAlternateInline(admin.TabularInline):
    """The service's alternates, tried lowest priority first; each with the terms of the provider's catalogue
    row it names (read in the same query as the alternates)."""

    model = ServiceAlternate
    form = ServiceAlternateForm
    formset = AlternateFormSet
    fk_name = "service"
    extra = 0
    fields = ("provider", "upstream_service_id", "priority", "terms")
    readonly_fields = ("terms",)
    verbose_name = "alternate at another provider"
    verbose_name_plural = "alternates at other providers (tried in order when the service's own provider cannot " \
                          "take an order)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "provider":
            # Read once here, not once per row as each row's <select> would.
            field.choices = list(field.choices)
        return field

    def get_queryset(self, request):
        entry = Service.objects.filter(provider=OuterRef("provider"), upstream_service_id=OuterRef(
            "upstream_service_id"))
        return super().get_queryset(request).select_related("provider").annotate(
            **{f"entry_{name}": Subquery(entry.values(name)[:1]) for name in _ENTRY_FIELDS})

    @admin.display(description="terms there")
    def terms(self, alternate: ServiceAlternate) -> str:
        if getattr(alternate, "entry_type", None) is None:
            return "not in the provider's synced catalogue" if alternate.pk else "—"
        gone = "" if alternate.entry_available_upstream else "; gone upstream"
        return (f"{alternate.entry_name} · {alternate.entry_type} · {alternate.entry_min}..{alternate.entry_max} · "
                f"cost {format_money(alternate.entry_upstream_rate)} {alternate.provider.currency}/1000{gone}")


def alternates_save_formset(request, formset) -> None:
    """The inline's changes, each through the alternates service (audited), never straight to the table."""
    service = formset.instance
    # What the admin's own change message reads.
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.deleted_forms:
        if form.instance.pk:
            alternate_remove(service_id=service.pk, provider_name=form.instance.provider.name, actor=request.user,
                             reason=INLINE_REASON)
            formset.deleted_objects.append(form.instance)
    for form in formset.forms:
        if form in formset.deleted_forms or not form.has_changed() or not form.cleaned_data:
            continue
        data = form.cleaned_data
        if form.instance.pk and "provider" in form.changed_data:
            old = ServiceAlternate.objects.select_related("provider").get(pk=form.instance.pk)
            alternate_remove(service_id=service.pk, provider_name=old.provider.name, actor=request.user,
                             reason=INLINE_REASON)
        try:
            saved = alternate_set(service_id=service.pk, provider_name=data["provider"].name,
                                  upstream_service_id=data["upstream_service_id"], priority=data.get("priority"),
                                  actor=request.user, reason=INLINE_REASON)
        except AlternateError as exc:  # the form checked it; the catalogue changed since
            messages.error(request, str(exc))
            continue
        if form.instance.pk:
            formset.changed_objects.append((saved, form.changed_data))
        else:
            formset.new_objects.append(saved)


class FindAlternatesForm(forms.Form):
    pick = forms.MultipleChoiceField(required=True, widget=forms.CheckboxSelectMultiple,
                                     error_messages={"required": "Choose at least one alternate to set."})
    reason = forms.CharField(max_length=500, help_text="Recorded in the audit log with each alternate set.")

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pick"].choices = choices


def find_alternates(model_admin: admin.ModelAdmin, request, queryset):
    """Propose alternates for the chosen services; the operator ticks the ones to set and says why."""
    services = list(queryset.select_related("provider")[:50])
    proposals = alternates_propose(services=services)
    choices = [(f"{c.service.pk}:{c.entry.pk}", f"{c.entry.provider.name} {c.entry.upstream_service_id}")
               for found in proposals.values() for c in found]
    form = FindAlternatesForm(request.POST if "apply" in request.POST else None, choices=choices)
    if "apply" in request.POST and form.is_valid():
        picks = [tuple(int(part) for part in value.split(":")) for value in form.cleaned_data["pick"]]
        entries = Service.objects.select_related("provider").in_bulk([entry_id for _, entry_id in picks])
        done, failed = 0, []
        for service_id, entry_id in picks:
            entry = entries[entry_id]
            try:
                alternate_set(service_id=service_id, provider_name=entry.provider.name,
                              upstream_service_id=entry.upstream_service_id, actor=request.user,
                              reason=form.cleaned_data["reason"])
                done += 1
            except AlternateError as exc:
                failed.append(f"service {service_id}: {exc}")
        model_admin.message_user(request, f"{done} alternate(s) set.", messages.SUCCESS)
        for message in failed:
            model_admin.message_user(request, message, messages.ERROR)
        return None
    return TemplateResponse(request, "admin/providers/service/find_alternates.html", {
        **model_admin.admin_site.each_context(request),
        "title": "Find alternates",
        "form": form,
        "rows": [(service, proposals.get(service.pk, [])) for service in services],
        "more": queryset.count() - len(services),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "opts": model_admin.model._meta,
        "media": model_admin.media + form.media,
    })


find_alternates.short_description = "Find alternates at other providers…"
