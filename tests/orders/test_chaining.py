"""Two panels in a chain: B (this test process) buys from A (a separate process of this same code), and A
buys from the upstream simulator. An order placed at B completes end to end; a Partial at the simulator
is refunded at A and at B, each to the last decimal.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from orders.models import Order, Stage, Status
from orders.pipeline.cycle import pipeline_cycle
from orders.services import order_create
from providers import ordertypes as ot
from providers.client import ProviderClient
from providers.pricing import charge_for as price_for
from tests.factories import CustomerFactory, ProviderFactory, ServiceFactory

pytestmark = pytest.mark.django_db

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PanelA:
    """Panel A: its own SQLite database and data folder, a web server, and commands run against it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v2"
        data = tmp_path / "panel-a"
        data.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
            "DATABASE_URL": f"sqlite:///{data / 'a.sqlite3'}", "PANEL_DATA_DIR": str(data), "DEBUG": "1",
            "SECRET_KEY": "panel-a-test-only", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
            "API_RATE_LIMIT_PER_SECOND": "1000", "API_RATE_LIMIT_BURST": "1000",
        }
        self.server: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, MANAGE, *args], env=self.env, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.server = subprocess.Popen([sys.executable, MANAGE, "runserver", f"127.0.0.1:{self.port}", "--noreload"],
                                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            assert self.server.poll() is None, "panel A's server exited"
            assert time.monotonic() < deadline, "panel A's server did not answer"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=10)


@pytest.fixture
def panel_a(tmp_path, simulator):
    """Panel A selling the simulator's services; returns it with B's API key there."""
    simulator.catalogue.resize(60)
    simulator.config.set(partial_share=0, canceled_share=0)
    simulator.add_key("panel-a-key", Decimal("1000"))
    panel = PanelA(tmp_path)
    panel.start()
    try:
        panel.manage("add_provider", "Simulator", simulator.url, "panel-a-key", "--markup", "25")
        panel.manage("sync_services", "--provider", "Simulator")
        created = panel.manage("create_customer", "panel-b", "--balance", "500")
        panel.b_key = re.search(r"API key: (\S+)", created).group(1)
        yield panel
    finally:
        panel.stop()


def test_order_at_b_completes_through_a_and_partial_refunds_at_both(panel_a, simulator):
    # given: B's provider is panel A; B sells A's Default service with its own markup
    provider = ProviderFactory(api_url=panel_a.url, api_key=panel_a.b_key, timeout_seconds=Decimal("10"))
    upstream_name = simulator.catalogue.first_of_type(ot.DEFAULT, dripfeed=False).name
    at_a = next(s for s in ProviderClient(provider).services() if s.name == upstream_name)
    service = ServiceFactory(provider=provider, upstream_service_id=at_a.service_id, type=ot.DEFAULT,
                             upstream_rate=at_a.rate, rate=Decimal("7.77777"), min=at_a.min, max=at_a.max)
    customer = CustomerFactory(funds="100")
    complete = order_create(customer=customer, service=service, data={"link": "https://x.test/a",
                                                                      "quantity": at_a.min})
    partial = order_create(customer=customer, service=service, data={"link": "https://x.test/b",
                                                                     "quantity": at_a.min * 3})

    # when: B sends to A, A sends to the simulator
    pipeline_cycle()
    panel_a.manage("run_pipeline", "--once")

    # then: one upstream order each at the simulator
    assert len(simulator.accepted_adds) == 2
    sim_complete, sim_partial = (a["order"] for a in simulator.accepted_adds)
    remains = at_a.min + 7
    simulator.force(sim_partial, status="Partial", remains=remains)
    simulator.advance(100_000)

    # when: A learns the outcome, then B does
    panel_a.manage("run_pipeline", "--once")
    pipeline_cycle()

    # then: at B, one completed and one Partial refunded exactly at B's price
    complete.refresh_from_db()
    partial.refresh_from_db()
    assert (complete.stage, complete.status, complete.refunded) == (Stage.FINAL, Status.COMPLETED, 0)
    assert (partial.stage, partial.status, partial.remains) == (Stage.FINAL, Status.PARTIAL, remains)
    assert partial.refunded == price_for(rate=Decimal("7.77777"), units=remains)
    call_command("check_ledger")

    # and at A: B's balance there shows A's Partial refund, at A's price
    a_charges = {Order.objects.get(pk=complete.pk).upstream_charge, Order.objects.get(pk=partial.pk).upstream_charge}
    a_rate = at_a.rate
    a_full = price_for(rate=a_rate, units=at_a.min) + price_for(rate=a_rate, units=at_a.min * 3)
    a_refund = price_for(rate=a_rate, units=remains)
    assert ProviderClient(provider).balance().amount == Decimal("500") - a_full + a_refund
    assert a_charges == {price_for(rate=a_rate, units=at_a.min), price_for(rate=a_rate, units=at_a.min * 3) - a_refund}
    panel_a.manage("check_ledger")
