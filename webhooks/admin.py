"""Read-only views of customers' webhook URLs and deliveries, for support: customers manage their own."""

from django.contrib import admin

from webhooks.models import WebhookEndpoint, WebhookEvent


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ("id", "customer", "url", "is_active", "failure_run", "retry_at", "disabled_at", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "customer__user__username")
    list_select_related = ("customer__user",)
    # The signing secret belongs to the customer: never shown here.
    exclude = ("secret",)


@admin.register(WebhookEvent)
class WebhookEventAdmin(_ReadOnly):
    list_display = ("event_id", "endpoint", "kind", "order", "state", "attempts", "response_code", "next_attempt_at",
                    "delivered_at", "created_at")
    list_filter = ("state", "kind")
    search_fields = ("event_id", "order__id", "endpoint__url")
    list_select_related = ("endpoint",)
    raw_id_fields = ("order", "endpoint")
