from django.contrib import admin

from providers.models import Category, ExchangeRate, Provider, Service, ServiceChange


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "api_url", "currency", "is_active", "upstream_balance", "consecutive_failures",
                    "circuit_open_until", "last_synced_at")
    list_filter = ("is_active",)
    search_fields = ("name", "api_url")
    readonly_fields = ("upstream_balance", "upstream_balance_checked_at", "consecutive_failures",
                       "circuit_open_until", "retry_after_until", "last_error", "last_synced_at", "created_at")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "rate", "updated_at")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "sort_order", "markup_percent")
    list_editable = ("sort_order", "markup_percent")
    search_fields = ("name",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "provider", "category", "type", "upstream_rate", "rate", "min", "max",
                    "is_active")
    list_filter = ("is_active", "provider", "type", "category")
    search_fields = ("name", "upstream_service_id")
    list_select_related = ("provider", "category")


@admin.register(ServiceChange)
class ServiceChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "service", "field", "old_value", "new_value")
    list_select_related = ("service",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
