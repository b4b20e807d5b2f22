"""The soak's processes: gunicorn, Celery workers and beat, each a process of its own, as in production.

Each starts in a session of its own, so a worker can be killed whole (its pool children included) with
one SIGKILL to its process group, as when a machine or a container dies. Their output goes to log files
in the soak's folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_purge(url: str) -> None:
    """Drop the soak's leftover Celery messages: the queues, and those a killed worker held unacked."""
    import redis

    client = redis.Redis.from_url(url)
    for key in ("celery", "send", "poll", "unacked", "unacked_index", "unacked_mutex"):
        client.delete(key)


class Stack:
    def __init__(self, *, env: dict[str, str], folder: Path, worker_concurrency: int) -> None:
        self.env = env
        self.folder = folder
        self.concurrency = worker_concurrency
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts = 0

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "a")  # noqa: SIM115 - the child writes it until it stops
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def start_web(self) -> None:
        self._start("web", [sys.executable, "-m", "gunicorn", "-c", "panel/gunicorn.conf.py", "panel.wsgi",
                            "--bind", f"127.0.0.1:{self.port}", "--workers", str(GUNICORN_WORKERS),
                            "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS)])

    def start_worker(self, number: int) -> None:
        self._start(f"worker{number}", [
            sys.executable, "-m", "celery", "-A", "panel", "worker", "-n", f"soak{number}@%h",
            "--queues=celery,send,poll", f"--concurrency={self.concurrency}", "--without-gossip",
            "--without-mingle"])

    def start_beat(self) -> None:
        self._start("beat", [sys.executable, "-m", "celery", "-A", "panel", "beat",
                             f"--schedule={self.folder / 'celerybeat-schedule'}"])

    def wait_until_up(self, *, workers: list[int], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            ready = [n for n in workers if "ready." in (self.folder / f"worker{n}.log").read_text()]
            if len(ready) == len(workers) and self._web_answers():
                return
            time.sleep(0.3)
        raise RuntimeError(f"the soak's processes did not start in {timeout} s; see {self.folder}")

    def _web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2):
                return True
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"/health answers {error.code}; see {self.folder / 'web.log'}") from error
        except OSError:
            return False

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.folder / (name + '.log')}")

    def kill_worker(self, number: int) -> None:
        """SIGKILL to the worker's whole process group: no warm shutdown, no message acknowledged."""
        process = self.processes.pop(f"worker{number}")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def restart_worker(self, number: int) -> None:
        self.restarts += 1
        self.start_worker(number)

    def stop(self) -> None:
        # SIGTERM to each main process (a worker's warm shutdown stops its own pool); SIGKILL to the group
        # of whatever is still there after the grace.
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()
