"""Transport faults: what each one means to the caller, and the API key never leaking through any of them."""

from __future__ import annotations

import logging
from decimal import Decimal
from email.utils import formatdate

import pytest

from providers import ordertypes as ot
from providers.client import ProviderClient, Rejected, Unavailable, UnknownOutcome, UpstreamError
from providers.simulator import Simulator
from tests.factories import ProviderFactory
from tests.simulator_fixtures import sample_fields

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-KEY+with/odd&chars"


@pytest.fixture
def provider(simulator):
    """A provider with a short timeout, so hangs end quickly, and a key that would show if leaked."""
    simulator.add_key(SECRET, 1000)
    simulator.config.hang_seconds = 30  # far beyond the client's timeout; stop() wakes hanging handlers
    return ProviderFactory(api_url=simulator.url, api_key=SECRET, timeout_seconds=Decimal("0.5"))


def add(simulator, provider) -> str:
    service = simulator.catalogue.first_of_type(ot.DEFAULT)
    return ProviderClient(provider).add(service_id=str(service.service_id), fields=sample_fields(service))


def read(provider) -> object:
    return ProviderClient(provider).statuses(["1", "2"])


# Faults ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("switch", ["html_502_share", "hang_share", "latency_ms"])
def test_reads_are_unavailable_when_nothing_definite_comes_back(simulator, provider, switch):
    # given
    setattr(simulator.config, switch, 2000 if switch == "latency_ms" else 1.0)

    # when / then
    with pytest.raises(Unavailable):
        read(provider)
    with pytest.raises(Unavailable):
        ProviderClient(provider).balance()


def test_a_small_latency_within_the_timeout_is_fine(simulator, provider):
    simulator.config.latency_ms = 50
    assert ProviderClient(provider).balance().amount == Decimal(1000)


def test_a_dropped_connection_is_unavailable_for_reads(simulator, provider):
    simulator.config.set(hang_share=1.0, hang_close=True, hang_seconds=0.05)
    with pytest.raises(Unavailable):
        read(provider)


@pytest.mark.parametrize("switches", [
    {"html_502_share": 1.0},
    {"hang_share": 1.0},
    {"hang_share": 1.0, "hang_close": True, "hang_seconds": 0.05},
    {"latency_ms": 2000},
])
def test_add_is_an_unknown_outcome_once_the_request_was_sent(simulator, provider, switches):
    # given
    simulator.config.set(**switches)

    # when / then
    with pytest.raises(UnknownOutcome):
        add(simulator, provider)
    assert simulator.request_counts["add"] == 1  # never sent twice


def test_add_that_the_upstream_accepted_but_never_answered(simulator, provider):
    # given
    simulator.config.hang_after_accept = True

    # when
    with pytest.raises(UnknownOutcome):
        add(simulator, provider)

    # then: the order exists upstream, exactly once
    assert simulator.request_counts["add"] == 1
    assert len(simulator.accepted_adds) == 1
    assert simulator.accepted_adds[0]["key"] == SECRET


def test_add_accepted_then_connection_dropped(simulator, provider):
    simulator.config.set(hang_after_accept=True, hang_close=True, hang_seconds=0.05)
    with pytest.raises(UnknownOutcome):
        add(simulator, provider)
    assert len(simulator.accepted_adds) == 1


def test_rate_limited_with_retry_after_seconds(simulator, provider):
    # given
    simulator.config.rate_limit_share = 1.0

    # when
    with pytest.raises(Unavailable) as on_read:
        read(provider)
    with pytest.raises(Unavailable) as on_add:  # refused before processing: safe to send again later
        add(simulator, provider)

    # then
    assert on_read.value.retry_after == 7.0
    assert on_add.value.retry_after == 7.0
    assert simulator.accepted_adds == []


def test_rate_limited_with_retry_after_as_a_date(simulator, provider):
    simulator.config.set(rate_limit_share=1.0, retry_after=formatdate(usegmt=True))  # "now" or just past
    with pytest.raises(Unavailable) as caught:
        read(provider)
    assert caught.value.retry_after is not None and caught.value.retry_after <= 1


def test_a_refused_connection_is_unavailable_even_for_add(db):
    # given: a simulator that stopped, so its port refuses connections
    sim = Simulator(seed=1).start()
    sim.stop()
    provider = ProviderFactory(api_url=sim.url, api_key=SECRET, timeout_seconds=Decimal("0.5"))

    # when / then
    with pytest.raises(Unavailable):
        add(sim, provider)
    with pytest.raises(Unavailable):
        read(provider)


def test_an_unroutable_address_is_unavailable_not_unknown(db):
    provider = ProviderFactory(api_url="http://10.255.255.1:81/api/v2", api_key=SECRET,
                               timeout_seconds=Decimal("0.3"))
    with pytest.raises(Unavailable):
        ProviderClient(provider).add(service_id="1", fields={"link": "https://x.com/a", "quantity": 10})


def test_an_html_404_page_is_unavailable(simulator, provider):
    provider.api_url = simulator.url.replace("/api/v2", "/wrong")
    with pytest.raises(Unavailable, match="HTTP 404"):
        ProviderClient(provider).balance()


def test_some_faults_fail_some_requests_and_the_rest_work(simulator, provider):
    # given: a seeded mix of faults
    simulator.config.set(html_502_share=0.3, rate_limit_share=0.2)
    outcomes = {"ok": 0, "Unavailable": 0}

    # when
    for _ in range(40):
        try:
            ProviderClient(provider).balance()
            outcomes["ok"] += 1
        except Unavailable:
            outcomes["Unavailable"] += 1

    # then
    assert outcomes["ok"] > 0 and outcomes["Unavailable"] > 0
    assert simulator.request_counts["balance"] == 40  # one request per call: the client does not retry


# The key stays secret ----------------------------------------------------------------------------------------

SCENARIOS = {
    "rejected": lambda sim: None,
    "502": lambda sim: sim.config.set(html_502_share=1.0),
    "hang": lambda sim: sim.config.set(hang_share=1.0),
    "dropped": lambda sim: sim.config.set(hang_share=1.0, hang_close=True, hang_seconds=0.05),
    "429": lambda sim: sim.config.set(rate_limit_share=1.0),
    "accepted-then-hang": lambda sim: sim.config.set(hang_after_accept=True),
}


@pytest.mark.parametrize("request_format", ["form", "json", "get"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_key_never_shows_in_errors_or_logs(simulator, provider, caplog, request_format, scenario):
    # given
    caplog.set_level(logging.DEBUG)
    provider.request_format = request_format
    SCENARIOS[scenario](simulator)
    client = ProviderClient(provider)
    errors: list[UpstreamError] = []

    # when
    for action in (lambda: client.status("404404"), lambda: add(simulator, provider),
                   lambda: client.cancel(["1"])):
        try:
            action()
        except UpstreamError as exc:
            errors.append(exc)

    # then
    assert errors, "the scenario produced no failure"
    if scenario == "rejected":
        assert isinstance(errors[0], Rejected)
    texts = [caplog.text, repr(client)] + [f"{e} {e!r} {e.args} {vars(e)}" for e in errors]
    for text in texts:
        assert SECRET not in text
        assert "s3cr3t" not in text


def test_a_wrong_key_is_not_repeated_back(simulator, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    provider = ProviderFactory(api_url=simulator.url, api_key="wrong-s3cr3t", request_format="get")

    # when
    with pytest.raises(Rejected) as caught:
        ProviderClient(provider).balance()

    # then
    assert caught.value.message == "Invalid API key"
    assert "wrong-s3cr3t" not in caplog.text
