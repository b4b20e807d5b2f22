"""Mail test fixtures: mail settings, a real SMTP server on a loopback port, and running queued mail."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from notify.models import SentMail
from notify.sending import mails_send

PANEL = "Test Panel"
STAFF = "staff@panel.test"


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PANEL_NAME = PANEL
    settings.PANEL_URL = "https://panel.test"
    settings.SUPPORT_EMAIL = STAFF
    settings.DEFAULT_FROM_EMAIL = "panel@panel.test"
    settings.MAIL_MAX_ATTEMPTS = 4
    settings.MAIL_RETRY_SECONDS = 60
    settings.MAIL_RETRY_MAX_SECONDS = 3600
    return settings


@pytest.fixture
def enqueued(monkeypatch):
    """The id batches handed to the send task (recorded here instead of going to the broker)."""
    from notify.tasks import send_mail_task

    batches: list[list[int]] = []
    monkeypatch.setattr(send_mail_task, "delay", lambda ids: batches.append(list(ids)))
    return batches


def send_queued() -> list[int]:
    """Run the send step for every queued row, as the task would; returns the ids sent."""
    ids = list(SentMail.objects.filter(state=SentMail.State.QUEUED).values_list("id", flat=True))
    return mails_send(sent_mail_ids=ids).sent if ids else []


class SmtpRecorder:
    """An aiosmtpd handler that keeps what it receives, or answers DATA with `fail_with` (e.g. a 451)."""

    def __init__(self) -> None:
        self.envelopes = []
        self.attempts = 0
        self.fail_with: str | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.attempts += 1
        if self.fail_with:
            return self.fail_with
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content or e.content, policy=email.policy.default)
                for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free loopback port, with Django's SMTP backend pointed at it."""
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield recorder
    controller.stop()
