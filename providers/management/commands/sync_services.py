from django.core.management.base import BaseCommand, CommandError

from providers.selectors import provider_get_by_name
from providers.services import SyncError, services_sync, services_sync_all


class Command(BaseCommand):
    help = "Import and update services with markup from every active provider (or one). Exits 1 if any failed."

    def add_arguments(self, parser):
        parser.add_argument("--provider", default=None, help="Name of the one provider to sync")

    def handle(self, *args, provider, **options):
        if provider is not None:
            found = provider_get_by_name(name=provider)
            if found is None:
                raise CommandError(f"No provider named {provider!r}")
            try:
                results = {found.name: services_sync(provider=found)}
            except SyncError as exc:
                results = {found.name: str(exc)}
        else:
            results = services_sync_all()
        failed = []
        for name, result in results.items():
            if isinstance(result, str):
                failed.append(name)
                self.stderr.write(f"FAILED: {result}")
            else:
                self.stdout.write(f"{name}: {result.summary()}")
        if not results:
            self.stdout.write("No active providers")
        if failed:
            raise CommandError(f"Sync failed for {len(failed)} provider(s): {', '.join(failed)}")
