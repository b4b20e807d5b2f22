from django.core.management.base import BaseCommand, CommandError

from providers.services import ProviderError, provider_create


class Command(BaseCommand):
    help = "Register an upstream panel (API v2). Prints the new provider's id; the key is never printed."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("url", help="The upstream's API v2 endpoint, e.g. https://panel.example/api/v2; a public "
                                        "address unless PROVIDER_URLS_ALLOW_PRIVATE is on")
        parser.add_argument("key", help="Our API key at the upstream")
        parser.add_argument("--currency", default="USD", help="Currency the upstream prices in (default USD)")
        parser.add_argument("--markup", default=None, help="Markup percent for this provider's services")
        parser.add_argument("--idempotent-add", action="store_true",
                            help="Its `add` honours request_id (another copy of this panel): an `add` whose answer "
                                 "was lost is sent again with the same request_id instead of waiting for an admin")

    def handle(self, *args, name, url, key, currency, markup, idempotent_add, **options):
        try:
            provider = provider_create(name=name, api_url=url, api_key=key, currency=currency, markup_percent=markup,
                                       idempotent_add=idempotent_add)
        except ProviderError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Provider {provider.name} created (id {provider.pk})")
