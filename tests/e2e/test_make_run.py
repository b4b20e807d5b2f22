"""`make run` as a process manager runs it: quiet when idle, and stopped whole by a signal to make alone.

GNU make neither forwards SIGINT to its command nor ends before it: run_local notices make's handling of
the signal (panel/parent_watch.py) and stops web, worker, beat and the simulators. The panel runs on
throwaway ports and data (SQLite, the file broker), as a new user's `make run` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STOP_LIMIT_SECONDS = 10

pytestmark = pytest.mark.skipif(shutil.which("make") is None or not sys.platform.startswith("linux"),
                                reason="needs GNU make and /proc (Linux)")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _default_signals() -> None:
    # As a terminal or a process manager starts it: make installs its handlers only for signals that
    # are not ignored, and a test runner's background may ignore SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(log: Path, text: str, make: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        if make.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"`make run` did not print {text!r}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    # Shared by the module's runs, as by a developer's second `make run`: the second finds it migrated.
    return tmp_path_factory.mktemp("make-run-data")


@pytest.fixture
def make_run(tmp_path, data_dir):
    web, simulator, gateways = _free_ports(3)
    log = tmp_path / "make-run.log"
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "LOG_LEVEL")}
    env.update(PANEL_DATA_DIR=str(data_dir), PANEL_POLL_SECONDS="1", PYTHONUNBUFFERED="1")
    with log.open("w") as out:
        # -o: never reinstall the virtualenv from here, whatever the age of pyproject.toml.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={web}",
             f"SIMULATOR_PORT={simulator}", f"GATEWAY_SIMULATOR_PORT={gateways}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_default_signals)
    try:
        _wait_for(log, "Panel running", make, timeout=240)
        _wait_for(log, " ready.", make, timeout=60)  # the worker
        _wait_for(log, "celery beat v", make, timeout=60)
        yield make, log
    finally:
        if make.poll() is None:
            for pid in _descendants(make.pid):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            make.kill()
            make.wait()


def _stop_and_time(make: subprocess.Popen, signum: int) -> tuple[float, list[int]]:
    children = _descendants(make.pid)
    started = time.monotonic()
    make.send_signal(signum)
    while any(_alive(pid) for pid in children) and time.monotonic() - started < STOP_LIMIT_SECONDS + 20:
        time.sleep(0.05)
    return time.monotonic() - started, [pid for pid in children if _alive(pid)]


def test_idle_it_logs_nothing_and_sigint_to_make_alone_stops_everything(make_run):
    make, log = make_run
    # given the panel up, beat ticking every second (PANEL_POLL_SECONDS=1) and nothing to do
    time.sleep(4)
    before = log.read_text().splitlines()

    # when it idles for a while
    time.sleep(6)

    # then it says nothing
    assert log.read_text().splitlines()[len(before):] == []

    # when SIGINT goes to make alone (not to its process group)
    children = _descendants(make.pid)
    assert len(children) >= 5  # run_local, web, worker, beat, the simulators
    seconds, left = _stop_and_time(make, signal.SIGINT)

    # then every child is gone within the limit, and make ends
    assert left == [], f"still running after {seconds:.1f} s: {left}"
    assert seconds < STOP_LIMIT_SECONDS
    make.wait(timeout=10)
    print(f"SIGINT to make: all {len(children)} children gone in {seconds:.2f} s")


def test_sigterm_to_make_alone_stops_everything(make_run):
    make, _log = make_run
    children = _descendants(make.pid)

    seconds, left = _stop_and_time(make, signal.SIGTERM)

    assert left == [], f"still running after {seconds:.1f} s: {left}"
    assert seconds < STOP_LIMIT_SECONDS
    make.wait(timeout=10)
    print(f"SIGTERM to make: all {len(children)} children gone in {seconds:.2f} s")
