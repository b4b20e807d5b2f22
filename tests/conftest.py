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


def pytest_configure(config: pytest.Config) -> None:
    # Before any test or fixture makes a user; the override also empties Django's cache of hashers.
    _fast_hashers.enable()


def pytest_unconfigure(config: pytest.Config) -> None:
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
