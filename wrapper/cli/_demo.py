"""``together-wrapper demo``: the main job, end to end, offline, in seconds -- against an embedded fake Together.

No API key and no network: the fake server (``wrapper.testing``) listens on loopback and injects 429s, 503s
and slow answers, plus a scripted burst of 503s that opens the circuit breaker. The batch goes through the
real client and the real batch runner (the same code as ``batch``), with a throwaway key, a rate limit low
enough that throttling shows, a budget, and a SQLite ledger in the output folder; then the dashboard is drawn
from that ledger. Settings are built here, not read from the environment, so a configured
``TOGETHER_LEDGER_URL`` or key is never touched.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from wrapper import Settings
from wrapper.cli._demo_batch import BATCH_FILES, run_batch_side, side_by_side
from wrapper.cli._files import default_errors_path
from wrapper.cli._job import BatchJob, JobResult, run_job
from wrapper.cli._render import money
from wrapper.reports import open_ledger, write_dashboard
from wrapper.testing import FakeStats, FakeTogetherServer

__all__ = ["DEMO_FILES", "demo_rows", "run_demo"]

DEMO_FILES = ("input.jsonl", "results.jsonl", "results.errors.jsonl", "ledger.db", "ledger.db-wal",
              "ledger.db-shm", "dashboard.html", *BATCH_FILES)
TOPICS = ("the moon", "rivers", "bread", "glaciers", "owls", "volcanoes", "tea", "bridges", "comets", "maple trees")
FAULT_RATES = {"rate_limit": 0.05, "server_error:503": 0.03, "latency": 0.05}
BREAKER_BURST = ("ok", "ok", "ok") + ("server_error:503",) * 6  # five failures in a row open the breaker


def demo_rows(count: int) -> list[dict[str, object]]:
    """``count`` small input rows: prompts and message lists, a few with their own parameters."""
    rows: list[dict[str, object]] = []
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        row: dict[str, object] = {"id": f"demo-{i:03d}"}
        if i % 4 == 3:
            row["messages"] = [{"role": "system", "content": "Answer in one short sentence."},
                               {"role": "user", "content": f"Tell me one fact about {topic}."}]
        else:
            row["prompt"] = f"Write a short line about {topic}, number {i}."
        if i % 5 == 0:
            row["temperature"] = 0.2
        rows.append(row)
    return rows


def _settings(server: FakeTogetherServer, folder: Path) -> Settings:
    return Settings(
        api_key="demo-key-not-secret", base_url=server.url, ledger_url=f"sqlite:///{folder / 'ledger.db'}",
        run_id=f"demo-{datetime.now(UTC):%Y%m%dT%H%M%SZ}", rate_limit_rpm=1200, max_retries=5, retry_base=0.2,
        retry_max_wait=2.0, retry_deadline=60.0, timeout=10.0, breaker_failures=5, breaker_window=10.0,
        breaker_recovery=1.5, max_estimated_cost=Decimal("0.05"), confirm_above_cost=Decimal("1"),
    )


def _report(console: Console, result: JobResult, server: FakeStats, folder: Path, seconds: float) -> None:
    snap, stats = result.metrics, result.stats
    table = Table(title="what happened", title_justify="left", show_header=False, title_style="bold")
    table.add_column(style="bold")
    table.add_column()
    statuses = ", ".join(f"{n} x {status}" for status, n in sorted(server.by_status.items()))
    rows = [
        ("requests the server saw", f"{server.total} ({statuses})"),
        ("faults it injected", ", ".join(f"{n} x {k}" for k, n in sorted(server.by_fault.items()) if k != "ok")),
    ]
    if snap is not None and stats is not None:
        failed = f", {stats.failed} failed" if stats.failed else ""
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(snap.retries_by_reason.items()))
        rows += [
            ("rows answered", f"{stats.done} of {stats.planned}{failed}"),
            ("retries", f"{snap.retries} ({reasons})"),
            ("429s handled", f"{snap.responses_429}"),
            ("throttled by our limiter", f"{snap.rate_limit_waits} waits, {snap.rate_limit_wait_s:.1f} s in total"),
            ("circuit breaker", f"{snap.breaker_transitions} state changes"),
            ("cost (fake prices = real ones)", f"{money(stats.cost)} of a {money(Decimal('0.05'))} budget"),
        ]
    rows += [("time", f"{seconds:.1f} s"), ("files", str(folder))]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for name in ("results.jsonl", "results.errors.jsonl", "dashboard.html", "ledger.db", "input.jsonl"):
        if (folder / name).exists():
            console.print(f"  {folder / name}")
    console.print(
        f"\nopen [bold]{folder / 'dashboard.html'}[/] in a browser; "
        f"TOGETHER_LEDGER_URL=sqlite:///{folder / 'ledger.db'} together-wrapper costs\n"
        "the same job against the real API (asks for confirmation; each row costs real money):\n"
        f"  TOGETHER_API_KEY=... together-wrapper batch {folder / 'input.jsonl'} --out results.jsonl --max-cost 0.05"
    )


def run_demo(console: Console, folder: Path, *, rows: int = 40, seed: int = 7, show_progress: bool = True) -> int:
    """Run the offline demo into ``folder`` (its previous demo files are replaced); returns the exit code."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (folder / name).unlink(missing_ok=True)
    source = folder / "input.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in demo_rows(rows)), encoding="utf-8")
    console.print(f"[bold]demo[/]: {rows} prompts through the real client against a fake Together on loopback "
                  "(no key, no network) with injected 429s, 503s and slow answers")
    started = time.monotonic()
    with FakeTogetherServer(seed=seed, fault_rates=FAULT_RATES, latency=0.02, fault_delay=0.4,
                            retry_after=0.3) as server:
        server.script(*BREAKER_BURST)
        settings = _settings(server, folder)
        job = BatchJob(input=source, output=folder / "results.jsonl", errors=default_errors_path(
            folder / "results.jsonl"), concurrency=8, max_tokens=64, yes=True, breaker_patience=30.0)
        result = run_job(job, console, settings=settings, interactive=False, show_progress=show_progress)
        realtime_s = time.monotonic() - started
        stats = server.stats
        batch_result, batch_s = run_batch_side(console, server, settings, source, folder, show_progress=show_progress)
    with open_ledger(settings) as ledger:
        ledger_rows = ledger.rows(run_id=settings.run_id)
    write_dashboard(folder / "dashboard.html", ledger_rows, title="wrapper demo",
                    budget_limit=settings.max_estimated_cost)
    _report(console, result, stats, folder, realtime_s)
    side_by_side(console, folder, settings, realtime_s, batch_s)
    return result.code or batch_result.code
