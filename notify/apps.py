from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Mail"

    def ready(self) -> None:
        from notify import signals  # noqa: F401 - connects the receivers
