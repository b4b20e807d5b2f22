"""Stop with the process that started us: `make run` under a process manager that signals make alone.

GNU make does not pass SIGINT on to the command it runs (it expects the terminal to have sent it to the
whole process group): it waits for the command to end, so everything `run_local` started would keep
running while make waits. Make's handler for a fatal signal does leave a trace, though: it puts the
signal back to its default action, blocked until its children are gone. `ParentWatch` reads the parent's
signal masks from /proc (Linux) and reports a termination signal the parent caught when we started that
is now blocked or no longer caught, and a parent that is gone (we were handed to init). Make forwards
SIGTERM by itself; the watch covers SIGINT and SIGHUP, and a parent killed outright.

Children started with `die_with_parent` get SIGTERM from the kernel if `run_local` itself is killed.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

TERMINATION_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
_TERMINATION_MASK = sum(1 << (int(sig) - 1) for sig in TERMINATION_SIGNALS)
_PR_SET_PDEATHSIG = 1


def signal_masks(pid: int) -> dict[str, int] | None:
    """The SigBlk/SigIgn/SigCgt masks of `pid` from /proc, or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    masks = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("SigBlk", "SigIgn", "SigCgt"):
            masks[name] = int(value.strip(), 16)
    return masks if len(masks) == 3 else None


class ParentWatch:
    def __init__(self) -> None:
        self.ppid = os.getppid()
        masks = signal_masks(self.ppid)
        # Only signals the parent handles itself say something when its handling changes.
        self.watched = masks["SigCgt"] & ~masks["SigBlk"] & _TERMINATION_MASK if masks else 0

    def parent_stopping(self) -> bool:
        if os.getppid() != self.ppid:
            return True
        if not self.watched:
            return False
        masks = signal_masks(self.ppid)
        if masks is None:
            return os.getppid() != self.ppid
        return bool(self.watched & (masks["SigBlk"] | ~masks["SigCgt"]))


def die_with_parent() -> None:
    """For `preexec_fn`: the kernel sends this child SIGTERM when its parent dies (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
