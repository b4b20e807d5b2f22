"""Run the whole panel on one machine: the demo upstream, web, Celery worker and beat; Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from panel.parent_watch import ParentWatch, die_with_parent
from providers.models import Provider
from providers.simulator import DEMO_KEY

DEMO_PROVIDER = "Demo provider"
DEMO_MARKUP = "30"
# Simulated seconds per real second: a demo order is pending a second or two and done in under a minute.
DEMO_SPEED = 20
DEMO_SERVICES = 300
# The demo payment methods on the gateway simulator, so a new user adds funds with no admin step.
DEMO_GATEWAY_KINDS = ("stripe", "paypal", "cryptomus")
# Beat's poll period in the embedded setup, unless PANEL_POLL_SECONDS says otherwise.
LOCAL_POLL_SECONDS = "10"
# After SIGTERM, how long the children get to finish before they are killed. Well within the 10 s that
# process managers (docker among them) wait before their own SIGKILL, which would leave them running.
STOP_GRACE_SECONDS = 5


def local_processes(*, host: str, port: int) -> list[tuple[str, list[str]]]:
    python = sys.executable
    manage = str(settings.BASE_DIR / "manage.py")
    celery = [python, "-m", "celery", "-A", "panel"]
    return [
        ("web", [python, manage, "runserver", f"{host}:{port}", "--noreload"]),
        # Their log level is LOG_LEVEL's (panel/celery.py hands their logging to Django's LOGGING).
        ("worker", [*celery, "worker", "--pool=threads", "--concurrency=4",
                    "--queues=celery,send,poll", "--without-gossip", "--without-mingle"]),
        ("beat", [*celery, "beat", f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}"]),
    ]


def gateway_simulator_process(*, port: int, panel_url: str) -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_gateway_simulator", "--port", str(port),
            "--panel-url", panel_url]


def port_answers(port: int, *, timeout: float = 0.5) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def demo_gateways_ensure(*, base_url: str, stdout) -> None:
    """Register the demo payment gateways at the gateway simulator; safe on every start."""
    from accounts.management.commands.run_gateway_simulator import DEMO_CREDENTIALS, DEMO_NAMES

    for kind in DEMO_GATEWAY_KINDS:
        credentials = [f"--credential={key}={value}" for key, value in DEMO_CREDENTIALS[kind].items()]
        call_command("add_gateway", DEMO_NAMES[kind], kind, "--api-base", f"{base_url}/{kind}", *credentials,
                     stdout=stdout)


def simulator_process(*, port: int) -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_simulator", "--port", str(port),
            "--speed", str(DEMO_SPEED), "--services-count", str(DEMO_SERVICES)]


def simulator_answers(url: str, *, timeout: float = 1.0) -> bool:
    body = urllib.parse.urlencode({"key": DEMO_KEY, "action": "balance"}).encode()
    try:
        with urllib.request.urlopen(url, data=body, timeout=timeout) as response:  # noqa: S310 - loopback only
            return "balance" in json.loads(response.read() or b"{}")
    except (OSError, ValueError, urllib.error.URLError):
        return False


def demo_provider_ensure(*, url: str, stdout) -> None:
    """Register the simulator as a provider once, then import its services; safe on every start."""
    provider = Provider.objects.filter(name=DEMO_PROVIDER).first()
    if provider is None:
        call_command("add_provider", DEMO_PROVIDER, url, DEMO_KEY, "--markup", DEMO_MARKUP, stdout=stdout)
    elif provider.api_url != url:
        Provider.objects.filter(pk=provider.pk).update(api_url=url)
    call_command("sync_services", "--provider", DEMO_PROVIDER, stdout=stdout)


class Command(BaseCommand):
    help = "Start the demo upstream, web, worker and beat together on the embedded default; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8001)
        parser.add_argument("--gateway-simulator-port", type=int, default=8002)
        parser.add_argument("--no-demo", action="store_true", help="Do not start the upstream simulator.")

    def handle(self, *args, host, port, simulator_port, gateway_simulator_port, no_demo, **options):
        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)
        # Under `make run`, a SIGINT sent to make alone never reaches us (make waits for us): watch make.
        parent = ParentWatch()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("PANEL_POLL_SECONDS", LOCAL_POLL_SECONDS)
        # Links in mails (printed by the worker with the console backend) lead to this panel.
        env.setdefault("PANEL_URL", f"http://{host}:{port}")
        if "EMAIL_BACKEND" not in env:
            # Mail goes to the console here: staff mails (new tickets, low balances) show there too.
            env.setdefault("SUPPORT_EMAIL", "support@localhost")

        def start(name: str, command: list[str]) -> None:
            # A new session per child: the terminal's Ctrl-C reaches only us, and we stop them in order.
            # Should we die without stopping them, the kernel sends them SIGTERM (Linux).
            children[name] = subprocess.Popen(command, env=env, start_new_session=True,
                                              preexec_fn=die_with_parent)
            self.stdout.write(f"started {name} (pid {children[name].pid})")

        try:
            if not no_demo:
                self._start_demo(start, children, port=simulator_port)
                self._start_demo_payments(start, children, port=gateway_simulator_port,
                                          panel_url=f"http://{host}:{port}")
            for name, command in local_processes(host=host, port=port):
                start(name, command)
            self.stdout.write(f"Panel running at http://{host}:{port}/  (Ctrl-C stops everything)")
            while not stopping:
                if parent.parent_stopping():
                    self.stdout.write("The process that started us is stopping; stopping the rest")
                    break
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping the rest")
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Stopped.")

    def _start_demo_payments(self, start, children, *, port: int, panel_url: str) -> None:
        if not port_answers(port):
            start("gateway-simulator", gateway_simulator_process(port=port, panel_url=panel_url))
            deadline = time.monotonic() + 30
            while not port_answers(port):
                if children["gateway-simulator"].poll() is not None or time.monotonic() > deadline:
                    self.stderr.write(f"The gateway simulator did not start on port {port}; going on without it")
                    children.pop("gateway-simulator", None)
                    return
                time.sleep(0.2)
        demo_gateways_ensure(base_url=f"http://127.0.0.1:{port}", stdout=self.stdout)
        self.stdout.write(f"Demo payment gateways ready at http://127.0.0.1:{port}")

    def _start_demo(self, start, children, *, port: int) -> None:
        url = f"http://127.0.0.1:{port}/api/v2"
        if simulator_answers(url):
            self.stdout.write(f"An upstream simulator already answers at {url}; using it")
        else:
            start("simulator", simulator_process(port=port))
            deadline = time.monotonic() + 30
            while not simulator_answers(url):
                if children["simulator"].poll() is not None or time.monotonic() > deadline:
                    self.stderr.write(f"The upstream simulator did not start on port {port}; going on without it")
                    children.pop("simulator", None)
                    return
                time.sleep(0.2)
        demo_provider_ensure(url=url, stdout=self.stdout)
        self.stdout.write(f"Demo provider ready: {DEMO_PROVIDER} at {url}")
