"""Run every benchmark and print its figures: `make bench` (or `python -m bench [name ...]`)."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

BENCHMARKS = ["upstream", "sync", "api", "pipeline"]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # a line per upstream request would bury the figures
    names = argv or BENCHMARKS
    failed = 0
    for name in names:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            figures = module.run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed += 1
            print(f"   failed: {exc!r}", flush=True)
            continue
        print(json.dumps(figures, indent=2, default=str), flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
