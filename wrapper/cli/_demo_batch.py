"""The demo's second half: the same input through the Batch API mode, then both modes side by side.

The embedded fake server runs the batch in a couple of seconds (``BatchTiming``); the table compares what a
person chooses between: wall time, and the cost of the tokens actually used at the real-time and at the batch
price (the batch mode is billed at the latter).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from wrapper import Settings
from wrapper.cli._batch_api import ApiOptions, run_batch_api
from wrapper.cli._job import BatchJob, JobResult
from wrapper.cli._render import money
from wrapper.reports import batch_model, open_ledger
from wrapper.testing import BatchTiming, FakeTogetherServer

__all__ = ["BATCH_FILES", "run_batch_side", "side_by_side"]

BATCH_FILES = ("results.batch-api.jsonl", "results.batch-api.errors.jsonl", "results.batch-api.batch-api.json")


def run_batch_side(console: Console, server: FakeTogetherServer, settings: Settings, source: Path, folder: Path,
                   *, show_progress: bool) -> tuple[JobResult, float]:
    """Send ``source`` through the Batch API mode of the fake server; returns the result and the seconds taken."""
    server.batches.timing = BatchTiming(validating=0.3, in_progress=1.5)
    console.print("\n[bold]the same prompts through the Batch API[/] (--via batch-api)")
    job = BatchJob(input=source, output=folder / "results.batch-api.jsonl", max_tokens=64, yes=True)
    started = time.monotonic()
    result = run_batch_api(job, console, ApiOptions(poll_interval=0.2, poll_max=0.5), settings=settings,
                           interactive=False, show_progress=show_progress)
    return result, time.monotonic() - started


def _costs(path: Path, settings: Settings) -> tuple[int, Decimal, Decimal]:
    """Rows answered, and their usage priced in real time and at the batch price."""
    realtime = batch = Decimal(0)
    rows = 0
    with open_ledger(settings) as ledger:
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            record = json.loads(line)
            usage, model = record.get("usage") or {}, record.get("model") or settings.model
            p, c = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
            live, cheap = ledger.price_of(model), ledger.price_of(batch_model(model))
            realtime += live.cost(p, c) if live else Decimal(0)
            batch += cheap.cost(p, c) if cheap else Decimal(0)
            rows += 1
    return rows, realtime, batch


def side_by_side(console: Console, folder: Path, settings: Settings, realtime_s: float, batch_s: float) -> None:
    """Print both modes: time, rows answered, and the cost of their tokens at each price."""
    table = Table(title="real time vs Batch API (same prompts)", title_justify="left", title_style="bold")
    for name in ("mode", "time", "rows answered", "at the real-time price", "at the batch price", "billed"):
        table.add_column(name)
    for mode, seconds, path in (("real time", realtime_s, folder / "results.jsonl"),
                                ("batch-api", batch_s, folder / "results.batch-api.jsonl")):
        rows, live, cheap = _costs(path, settings)
        table.add_row(mode, f"{seconds:.1f} s", str(rows), money(live), money(cheap),
                      money(live if mode == "real time" else cheap))
    console.print(table)
    console.print("the fake finishes a batch in seconds; Together takes minutes to hours, for about half the price "
                  "and a separate rate limit")
