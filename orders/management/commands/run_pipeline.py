"""One synchronous pipeline cycle (send all due, poll all, refills, cancels), or a loop of them."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand

from orders.pipeline.cycle import pipeline_cycle


class Command(BaseCommand):
    help = "Run the order pipeline in this process: --once for one cycle, else a cycle every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one cycle and exit.")
        parser.add_argument("--interval", type=float, default=10.0, help="Seconds between cycles when looping.")
        parser.add_argument("--threads", type=int, default=1, help="Threads sending orders in parallel.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the summary as JSON.")

    def handle(self, *args, once, interval, threads, as_json, **options):
        while True:
            summary = pipeline_cycle(send_threads=threads)
            self._print(summary, as_json=as_json)
            if once:
                return
            time.sleep(interval)

    def _print(self, summary: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(summary, default=str))
            return
        sent = summary["send"]
        self.stdout.write(f"send: {', '.join(f'{k}={v}' for k, v in sorted(sent.items())) or 'nothing due'}; "
                          f"stale claims to unknown: {summary['stale_to_unknown']}")
        for name, result in summary["providers"].items():
            self.stdout.write(f"{name}: {json.dumps(result, default=str)}")
        self.stdout.write(f"settled late: {summary['settled_late']}")

