from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers and services"

    def ready(self) -> None:
        from providers import catalogue  # noqa: F401  (connects the receivers that keep the API's catalogue right)
