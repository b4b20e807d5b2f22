from django.core.management.base import BaseCommand, CommandError

from providers.alternates import AlternateError, alternate_remove, alternate_set


class Command(BaseCommand):
    help = ("Set a sellable service's alternate at another provider (where its orders go when its own provider "
            "cannot take them), or remove it with --remove. The provider's catalogue must be synced: the upstream "
            "service is one of its imported services (it may be inactive).")

    def add_arguments(self, parser):
        parser.add_argument("service_id", type=int, help="Our service's id")
        parser.add_argument("provider_name", help="The other provider's name")
        parser.add_argument("upstream_service_id", help="The service's id at that provider")
        parser.add_argument("--priority", type=int, default=None,
                            help="Alternates are tried lowest first (default: after the existing ones)")
        parser.add_argument("--remove", action="store_true", help="Remove the service's alternate at that provider")

    def handle(self, *args, service_id, provider_name, upstream_service_id, priority, remove, **options):
        if remove:
            if not alternate_remove(service_id=service_id, provider_name=provider_name,
                                    upstream_service_id=upstream_service_id,
                                    reason="manage.py service_alternate --remove"):
                raise CommandError(f"Service {service_id} has no alternate {upstream_service_id} at {provider_name!r}")
            self.stdout.write(f"Service {service_id}: alternate at {provider_name} removed")
            return
        try:
            alternate = alternate_set(service_id=service_id, provider_name=provider_name,
                                      upstream_service_id=upstream_service_id, priority=priority,
                                      reason="manage.py service_alternate")
        except AlternateError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Service {service_id}: alternate {provider_name} service {alternate.upstream_service_id} "
                          f"(priority {alternate.priority})")
