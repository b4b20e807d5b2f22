"""Operator commands add_provider and sync_services, end to end against the simulator; the beat entry."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from providers.models import Provider, Service
from providers.simulator import DEMO_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(simulator):
    simulator.config.services_count = 120
    simulator.catalogue.resize(120)
    return simulator


def _add(capsys, *args) -> Provider:
    call_command("add_provider", *args)
    out = capsys.readouterr().out
    provider_id = int(re.search(r"\(id (\d+)\)", out).group(1))
    provider = Provider.objects.get(pk=provider_id)
    assert provider.api_key not in out
    return provider


def test_add_provider_prints_the_id_never_the_key(capsys):
    provider = _add(capsys, "Upstream One", "https://one.example/api/v2", "very-secret-key",
                    "--currency", "eur", "--markup", "12.5")

    assert (provider.name, provider.api_key, provider.currency, provider.markup_percent) == (
        "Upstream One", "very-secret-key", "EUR", Decimal("12.5"))


@pytest.mark.parametrize("args, message", [
    (("X", "not-a-url", "k"), "Not an http"),
    (("X", "https://x.example/api/v2", "k", "--currency", "DOLLARS"), "three-letter"),
    (("X", "https://x.example/api/v2", "k", "--markup", "ten"), "Markup"),
])
def test_add_provider_refuses_bad_input_and_stores_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("add_provider", *args)

    assert not Provider.objects.exists()


def test_add_provider_refuses_a_taken_name(capsys):
    _add(capsys, "Dup", "https://dup.example/api/v2", "k")

    with pytest.raises(CommandError, match="already exists"):
        call_command("add_provider", "Dup", "https://other.example/api/v2", "k2")


def test_add_then_sync_end_to_end(sim, capsys):
    # given a provider registered by command
    provider = _add(capsys, "Sim", sim.url, DEMO_KEY, "--markup", "20")

    # when synced, then changed upstream and synced again
    call_command("sync_services", "--provider", "Sim")
    first = capsys.readouterr().out
    sim.catalogue.set_rate("1", "9.99")
    sim.catalogue.remove("2")
    sim.catalogue.add(name="Fresh one", category="Fresh", rate="1.5")
    call_command("sync_services")
    second = capsys.readouterr().out

    # then
    assert "Sim: added 120, changed 0, deactivated 0" in first
    assert "Sim: added 1, changed 1, deactivated 1" in second
    assert Service.objects.filter(provider=provider).count() == 121
    assert Service.objects.get(provider=provider, upstream_service_id="1").rate == Decimal("11.988")


def test_sync_exits_non_zero_when_a_provider_fails(sim, capsys):
    _add(capsys, "Good", sim.url, DEMO_KEY)
    _add(capsys, "Bad", sim.url, "a-wrong-key")

    with pytest.raises(CommandError, match="Bad"):
        call_command("sync_services")

    captured = capsys.readouterr()
    assert "Good: added 120" in captured.out
    assert "FAILED" in captured.err and "a-wrong-key" not in captured.err
    assert Service.objects.filter(provider__name="Good").count() == 120


def test_sync_of_an_unknown_provider_is_an_error():
    with pytest.raises(CommandError, match="No provider named"):
        call_command("sync_services", "--provider", "nobody")


def test_beat_runs_the_sync_at_the_configured_interval():
    from panel.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["services-sync-all"]

    assert entry["schedule"] == timedelta(minutes=settings.PANEL_SERVICE_SYNC_MINUTES)
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
