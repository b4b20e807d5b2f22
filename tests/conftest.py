"""Shared fixtures. Tests that need PostgreSQL skip on SQLite, except in CI where that is a failure."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.test.utils import override_settings

pytest_plugins = ["tests.simulator_fixtures"]

# Hashing each test user's password with the production cost would dominate the suite's time. Only this
# process checks those passwords (live servers run in it, in a thread), so no other process needs the hasher.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
_fast_hashers = override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS)

# The upstream simulator listens on loopback, which provider URLs may reach only with this on: here, and in
# the panels that tests start as child processes. Tests of the refusal turn it off for themselves.
os.environ["PROVIDER_URLS_ALLOW_PRIVATE"] = "1"
_private_provider_urls = override_settings(PROVIDER_URLS_ALLOW_PRIVATE=True)


def pytest_configure(config: pytest.Config) -> None:
    # Before any test or fixture makes a user; the override also empties Django's cache of hashers.
    _fast_hashers.enable()
    _private_provider_urls.enable()


def pytest_unconfigure(config: pytest.Config) -> None:
    _private_provider_urls.disable()
    _fast_hashers.disable()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and not settings.USES_POSTGRES:
        if os.environ.get("CI"):
            pytest.fail("CI must run this test on PostgreSQL: DATABASE_URL is not a PostgreSQL URL")
        pytest.skip("needs PostgreSQL (row locks and real concurrency); set DATABASE_URL to run it")


@pytest.fixture(autouse=True)
def _isolated_data(settings, tmp_path):
    """Keep caches (rate limits) from leaking between tests."""
    from django.core.cache import cache

    # Pages render {% static %}; the manifest storage needs `collectstatic` output that tests do not have.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _force_login_includes_the_second_factor(monkeypatch):
    """`client.force_login(staff)` skips the password; here it also skips the second factor the admin asks
    for, by marking the session verified with a confirmed device, as the sign-in's second step would.

    Only this test shortcut changes: signing in through the forms still needs a code, and
    tests/web/test_two_factor.py checks that the admin stays closed without one.
    """
    from django.test.client import ClientMixin

    signed_in = ClientMixin._login

    def _login(self, user, backend=None):
        signed_in(self, user, backend)
        if user.is_staff:
            from django_otp import DEVICE_ID_SESSION_KEY
            from django_otp.plugins.otp_static.models import StaticDevice

            device, _ = StaticDevice.objects.get_or_create(user=user, name="force_login",
                                                           defaults={"confirmed": True})
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(ClientMixin, "_login", _login)
