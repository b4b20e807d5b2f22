"""Run the whole panel on one machine: web, Celery worker and beat, side by side; Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def local_processes(*, host: str, port: int) -> list[tuple[str, list[str]]]:
    python = sys.executable
    manage = str(settings.BASE_DIR / "manage.py")
    celery = [python, "-m", "celery", "-A", "panel"]
    return [
        ("web", [python, manage, "runserver", f"{host}:{port}", "--noreload"]),
        ("worker", [*celery, "worker", "--loglevel=INFO", "--pool=threads", "--concurrency=4",
                    "--queues=celery,send,poll", "--without-gossip", "--without-mingle"]),
        ("beat", [*celery, "beat", "--loglevel=INFO", f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}"]),
    ]


class Command(BaseCommand):
    help = "Start web, worker and beat together on the embedded default; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in local_processes(host=host, port=port):
            # A new session per child: the terminal's Ctrl-C reaches only us, and we stop them in order.
            children[name] = subprocess.Popen(command, env=env, start_new_session=True)
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        self.stdout.write(f"Panel running at http://{host}:{port}/  (Ctrl-C stops everything)")
        try:
            while not stopping:
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
            deadline = time.monotonic() + 15
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Stopped.")
