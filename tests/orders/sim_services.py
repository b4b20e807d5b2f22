"""Services made for one test at the simulator, with known rates and limits, so amounts are exact."""

from __future__ import annotations

from decimal import Decimal

from providers import ordertypes as ot
from providers.models import Service
from tests.factories import ServiceFactory


def own_sim_service(simulator, provider, type_name: str = ot.DEFAULT, *, rate: str = "2.00",
                    upstream_rate: str = "1.00", min: int = 10, max: int = 10_000, cancel: bool = True,
                    dripfeed: bool = False) -> Service:
    """A new service at the simulator and ours for it, selling at `rate` per 1000."""
    upstream = simulator.catalogue.add(name=f"Test {type_name}", category="Tests", rate=upstream_rate,
                                       type=type_name, min=min, max=max, cancel=cancel, dripfeed=dripfeed)
    return ServiceFactory(provider=provider, upstream_service_id=str(upstream.service_id), type=type_name,
                          name=upstream.name, upstream_rate=Decimal(upstream_rate), rate=Decimal(rate), min=min,
                          max=max, refill=False, cancel=cancel, dripfeed=dripfeed)
