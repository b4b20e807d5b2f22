from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers and money"

    def ready(self) -> None:
        from accounts import keycache  # noqa: F401  (connects the receivers that keep the key cache right)
