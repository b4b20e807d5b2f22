"""/metrics: who may read it, and what it shows after a pipeline cycle against the upstream simulator."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count
from prometheus_client.parser import text_string_to_metric_families

from accounts import deposits
from accounts.models import Deposit, Gateway
from orders.models import Order, Stage
from orders.pipeline.cycle import pipeline_cycle
from panel.env import env_networks
from providers import ordertypes as ot
from tests.factories import CustomerFactory, OrderFactory, ProviderFactory, ServiceFactory
from tests.orders.pipeline_support import place, sim_service

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TOKEN = "scrape-token-0123456789"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_ADDRESSES = []


def _scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- access ----------------------------------------------------------------------------------------------


def test_without_a_token_or_an_allowlist_the_endpoint_is_off(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_ADDRESSES = "", []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_is_refused(client, metrics_on, header):
    response = client.get("/metrics", **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert response.status_code == 403 and b"smm_" not in response.content


def test_the_token_opens_it(client, metrics_on):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


@pytest.mark.parametrize("address, allowed", [("10.1.2.3", True), ("10.0.0.9", False), ("192.168.0.7", False),
                                              ("fd00::5", True)])
def test_an_allowlisted_address_needs_no_token(client, settings, address, allowed):
    # given
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_ADDRESSES = ["10.1.0.0/16", "fd00::/8"]

    # when
    response = client.get("/metrics", REMOTE_ADDR=address)

    # then
    assert response.status_code == (200 if allowed else 403)


def test_the_allowlist_is_checked_at_start_up(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_ADDRESSES", "10.0.0.0/8, not-an-address")
    with pytest.raises(ImproperlyConfigured, match="METRICS_ALLOWED_ADDRESSES"):
        env_networks("METRICS_ALLOWED_ADDRESSES")


# --- what it shows -----------------------------------------------------------------------------------------


def test_a_scrape_after_a_pipeline_cycle(client, metrics_on, simulator, simulator_provider):
    # given: orders placed with the simulator, one unknown elsewhere, a pending deposit, two API calls
    before = _scrape(client)
    customer = CustomerFactory(funds="100")
    service = sim_service(simulator, simulator_provider, ot.DEFAULT)
    placed = [place(customer, service, link=f"https://x.test/{n}", quantity=service.min) for n in range(3)]
    elsewhere = ProviderFactory(name="Elsewhere")
    OrderFactory(service=ServiceFactory(provider=elsewhere), stage=Stage.UNKNOWN)
    gateway = Gateway.objects.create(name="card", kind="stripe", currency="USD", credentials={"secret_key": "x"})
    quote = deposits.deposit_quote(gateway=gateway, amount="25")
    Deposit.objects.create(customer=customer, gateway=gateway, amount=quote.amount, pay_amount=quote.pay_amount,
                           currency=quote.currency, fee=quote.fee, exchange_rate=quote.exchange_rate,
                           credit_amount=quote.credit_amount, bonus=quote.bonus, reference="ref-1",
                           status=Deposit.Status.PENDING)
    client.post("/api/v2", {"key": customer.raw_api_key, "action": "balance"})
    client.post("/api/v2", {"key": customer.raw_api_key, "action": "nonsense"})

    # when: one cycle sends, polls and checks the balance; then Prometheus scrapes
    pipeline_cycle()
    after = _scrape(client)

    # then: the engine's state, read from the database
    provider = simulator_provider.name
    by_state = {(stage, status): count for stage, status, count in
                Order.objects.order_by().values_list("stage", "status").annotate(n=Count("id"))
                .values_list("stage", "status", "n")}
    for (stage, status), count in by_state.items():
        assert _value(after, "smm_orders", stage=stage, status=status) == count
    assert sum(count for (stage, _), count in by_state.items() if stage == Stage.SENT) == len(placed)
    assert _value(after, "smm_orders_unknown", provider="Elsewhere") == 1
    assert _value(after, "smm_orders_unknown", provider=provider) == 0
    assert 0 <= _value(after, "smm_poll_lag_seconds", provider=provider) < 60
    assert _value(after, "smm_send_lag_seconds", provider=provider) == 0
    assert _value(after, "smm_provider_circuit_open", provider=provider) == 0
    assert _value(after, "smm_provider_balance", provider=provider, currency="USD") == pytest.approx(
        float(simulator.balance_of(simulator_provider.api_key)))
    assert _value(after, "smm_deposits", gateway="card", status="pending") == 1
    assert _value(after, "smm_deposits_amount", gateway="card", status="pending", currency="USD") == 25

    # and the counters this process kept, by what the cycle and the API did
    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("smm_upstream_requests_total", provider=provider, action="add", outcome="ok") == len(placed)
    assert grew("smm_upstream_requests_total", provider=provider, action="status", outcome="ok") >= 1
    assert grew("smm_upstream_requests_total", provider=provider, action="balance", outcome="ok") == 1
    assert grew("smm_upstream_request_seconds_count", provider=provider, action="add") == len(placed)
    assert grew("smm_api_requests_total", action="balance", answer="ok") == 1
    assert grew("smm_api_requests_total", action="other", answer="incorrect_request") == 1


def test_upstream_errors_are_counted_by_outcome(client, metrics_on, simulator, simulator_provider):
    # given: the upstream answers 502 to everything
    before = _scrape(client)
    simulator.config.set(html_502_share=1.0)
    from providers.health import provider_balance_check

    # when
    provider_balance_check(provider_id=simulator_provider.pk)
    after = _scrape(client)

    # then
    labels = {"provider": simulator_provider.name, "action": "balance", "outcome": "unavailable"}
    assert _value(after, "smm_upstream_requests_total", **labels) - _value(
        before, "smm_upstream_requests_total", **labels) == 1


def test_a_scrape_is_a_few_queries_whatever_the_number_of_orders(client, metrics_on, django_assert_max_num_queries):
    # given
    service = ServiceFactory()
    for stage in (Stage.PAID, Stage.SENT, Stage.UNKNOWN, Stage.FINAL) * 5:
        OrderFactory(service=service, stage=stage, upstream_id="" if stage in (Stage.PAID, Stage.UNKNOWN) else "1")

    # when: the session and sign-in middleware add none (no cookie)
    with django_assert_max_num_queries(4):
        samples = _scrape(client)

    # then
    assert _value(samples, "smm_orders_unknown", provider=service.provider.name) == 5


def test_counters_of_other_processes_are_added_up(client, metrics_on, settings, tmp_path):
    # given: two other processes (gunicorn workers, say) counted in prometheus_client's multiprocess mode
    script = textwrap.dedent("""
        import django, os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
        django.setup()
        from panel.metrics.counters import count_api_request
        from providers.client_metrics import observe_upstream_call
        count_api_request(action="status", answer="ok", status=200)
        observe_upstream_call(provider="Far", action="add", seconds=0.2, error=None)
    """)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "SECRET_KEY": "t",
           "PANEL_DATA_DIR": str(tmp_path / "data")}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    # when
    samples = _scrape(client)

    # then
    assert _value(samples, "smm_api_requests_total", action="status", answer="ok") == 2
    assert _value(samples, "smm_upstream_requests_total", provider="Far", action="add", outcome="ok") == 2
    assert _value(samples, "smm_upstream_request_seconds_bucket", provider="Far", action="add", le="0.25") == 2
    assert "smm_orders" in {name for name, _ in samples} or not Order.objects.exists()
