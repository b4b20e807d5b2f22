"""Helpers to call /api/v2 the three ways v2 clients do: form POST, JSON POST and GET."""

from __future__ import annotations

import functools
import json
from urllib.parse import urlencode

import jsonschema_rs
import pytest

ENCODINGS = ("form", "json", "get")
# Lines the schemathesis fuzz reports (examples run, wall time), printed at the end of the run.
FUZZ_SUMMARY = pytest.StashKey[list[str]]()


def api_call(client, encoding: str, params: dict, path: str = "/api/v2"):
    """One request in `encoding`; returns the raw response."""
    if encoding == "form":
        return client.post(path, urlencode(params), content_type="application/x-www-form-urlencoded")
    if encoding == "json":
        return client.post(path, json.dumps(params), content_type="application/json")
    return client.get(path, params)


def answer_of(response, status: int = 200):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


@functools.cache
def documented(component: str) -> jsonschema_rs.Validator:
    """A validator for one component of the API's OpenAPI description (e.g. "StatusAnswer")."""
    from panel.api.openapi import openapi_document

    components = openapi_document()["components"]
    return jsonschema_rs.Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": components})


@pytest.fixture
def fuzz_summary(request) -> list[str]:
    """Lines to print in the terminal summary, where CI's log shows them without `-s`."""
    return request.config.stash.setdefault(FUZZ_SUMMARY, [])


def pytest_terminal_summary(terminalreporter) -> None:
    lines = terminalreporter.config.stash.get(FUZZ_SUMMARY, [])
    if lines:
        terminalreporter.section("api fuzz")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(params=ENCODINGS)
def encoding(request) -> str:
    return request.param


@pytest.fixture
def api(client, encoding):
    """api(key, action, **params) -> the decoded JSON answer (HTTP 200 and JSON asserted)."""

    def call(key: str, action: str, **params):
        return answer_of(api_call(client, encoding, {"key": key, "action": action, **params}))

    return call


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """For tests whose commits are real (live server, threads): record the orders handed to the
    sending task instead of publishing them to a broker."""
    sent: list[int] = []
    monkeypatch.setattr("orders.services._enqueue_send", sent.append)
    return sent


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # The docs page extends base.html; the manifest storage would need `collectstatic` first.
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
