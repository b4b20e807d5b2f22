"""Two upstream panels for the failover tests: the service's own provider (the `simulator` fixture) and a backup
(a second simulator) whose catalogue holds the same service, set as the service's alternate."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest

from orders.models import Order
from orders.services import order_create
from providers.alternates import alternate_set
from providers.models import Provider, Service
from providers.simulator import Simulator
from tests.factories import CustomerFactory, ProviderFactory, ServiceFactory

_keys = itertools.count(1)
QUANTITY = 1000


@dataclass
class Pair:
    primary_sim: Simulator
    backup_sim: Simulator
    primary: Provider
    backup: Provider
    service: Service  # sold, at the primary
    entry: Service  # the backup's catalogue row (inactive: not sold on its own)
    customer: object

    def adds(self) -> int:
        """Upstream orders made at both panels together."""
        return len(self.primary_sim.accepted_adds) + len(self.backup_sim.accepted_adds)

    def place(self, **data) -> Order:
        return order_create(customer=self.customer, service=self.service,
                            data={"link": "https://instagram.com/p/failover", "quantity": QUANTITY, **data})


def _sim_service(sim: Simulator, *, rate: str):
    return sim.catalogue.add(name="Instagram Followers HQ [refill 30d]", category="Instagram Followers",
                             rate=rate, min=10, max=10_000, refill=True, cancel=True, dripfeed=True)


def _key(sim: Simulator, balance: str) -> str:
    key = f"failover-key-{next(_keys)}"
    sim.add_key(key, Decimal(balance))
    return key


@pytest.fixture
def backup_simulator():
    sim = Simulator(speed=0, seed=4321)
    sim.start()
    yield sim
    sim.stop()


def make_pair(simulator: Simulator, backup_simulator: Simulator, *, sale_rate: str = "2.00",
              backup_rate: str = "1.10", primary_balance: str = "1000") -> Pair:
    """A service sold at `sale_rate` per 1000, costing 1.00 at the primary and `backup_rate` at the backup."""
    primary_sim_service = _sim_service(simulator, rate="1.00")
    backup_sim_service = _sim_service(backup_simulator, rate=backup_rate)
    primary = ProviderFactory(name="Primary", api_url=simulator.url, api_key=_key(simulator, primary_balance))
    backup = ProviderFactory(name="Backup", api_url=backup_simulator.url, api_key=_key(backup_simulator, "1000"),
                             import_new_active=False)
    common = {"name": primary_sim_service.name, "type": "Default", "min": 10, "max": 10_000, "refill": True,
              "cancel": True, "dripfeed": True}
    service = ServiceFactory(provider=primary, upstream_service_id=str(primary_sim_service.service_id),
                             upstream_rate=Decimal("1.00"), rate=Decimal(sale_rate), **common)
    entry = ServiceFactory(provider=backup, upstream_service_id=str(backup_sim_service.service_id),
                           upstream_rate=Decimal(backup_rate), rate=Decimal("9.99"), is_active=False, **common)
    alternate_set(service_id=service.pk, provider_name="Backup", upstream_service_id=entry.upstream_service_id)
    return Pair(simulator, backup_simulator, primary, backup, service, entry, CustomerFactory(funds="100"))
