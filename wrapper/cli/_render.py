"""Everything the CLI shows a person: the progress bar, the input problems, the plan and the batch summary.

Rich does the drawing; nothing here decides anything. Money is formatted from Decimal without floats.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from wrapper import MetricsSnapshot
from wrapper.cli._batch_stats import BatchStats
from wrapper.cli._input import Problem

__all__ = ["QuietProgress", "RichProgress", "money", "print_problems", "print_summary", "stop_message"]

MAX_PROBLEMS_SHOWN = 20


def money(amount: Decimal | None, *, unknown: str = "unknown") -> str:
    """``$12.35`` from a dollar, ``$0.0123`` from a cent, ``$0.0000384`` below (up to 8 places, no exponent)."""
    if amount is None:
        return unknown
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    if abs(amount) >= Decimal("0.01"):
        return f"${amount:.4f}"
    text = format(amount.quantize(Decimal("1e-8")), "f").rstrip("0")
    return f"${text}" if text.rstrip(".-0") else "$0.00"


class RateColumn(ProgressColumn):
    """Rows per second over rich's recent window."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("-- rows/s" if speed is None else f"{speed:,.1f} rows/s", style="cyan")


class RichProgress:
    """The batch progress bar: done/failed, rate, ETA, cost so far, budget left. A :class:`ProgressSink`.

    Updates are applied at most every ``min_interval`` seconds (the bar redraws 4 times a second anyway):
    each update takes the lock rich's refresh thread renders under, and one per row made a fast batch twice
    as slow (measured with benchmarks/batch_10k.py). The budget (a store query) is read every ``budget_every``.
    """

    def __init__(self, console: Console, total: int, *, budget_left: Callable[[], Decimal | None],
                 min_interval: float = 0.1, budget_every: float = 1.0) -> None:
        self._budget_left = budget_left
        self._intervals = (min_interval, budget_every)
        self._last = self._last_budget = 0.0
        self._pending: BatchStats | None = None
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]✓ {task.fields[done]}[/] [red]✗ {task.fields[failed]}[/]"), RateColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[cost]}"),
            TextColumn("[dim]{task.fields[left]}[/]"), console=console, refresh_per_second=4,
        )
        self._task = self._progress.add_task("batch", total=total, done=0, failed=0, cost=money(Decimal(0)),
                                             left=self._left_text())

    def _left_text(self) -> str:
        left = self._budget_left()
        return "no budget" if left is None else f"{money(left)} left"

    def update(self, stats: BatchStats) -> None:
        """Show the latest counts (throttled; the last one is always shown when the bar stops)."""
        now = time.monotonic()
        self._pending = stats
        if now - self._last >= self._intervals[0]:
            self._last = now
            self._apply(now - self._last_budget >= self._intervals[1])

    def _apply(self, with_budget: bool) -> None:
        stats, self._pending = self._pending, None
        if with_budget:
            self._last_budget = time.monotonic()
            self._progress.update(self._task, left=self._left_text())
        if stats is not None:
            self._progress.update(self._task, completed=stats.done + stats.failed, done=stats.done,
                                  failed=stats.failed, cost=money(stats.cost))

    def note(self, message: str) -> None:
        """Print a line above the bar."""
        self._progress.console.print(f"[yellow]{message}[/]")

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._apply(True)
        self._progress.stop()


class QuietProgress:
    """A :class:`ProgressSink` that shows nothing (benchmarks, embedding)."""

    def update(self, stats: BatchStats) -> None:
        """Ignore progress."""

    def note(self, message: str) -> None:
        """Ignore notes."""


def print_problems(console: Console, problems: Sequence[Problem], path: Path) -> None:
    """The invalid rows, with line numbers (the first few; the count of the rest)."""
    table = Table(title=f"{len(problems)} invalid row(s) in {path}", title_justify="left", title_style="bold red")
    table.add_column("line", justify="right")
    table.add_column("id")
    table.add_column("problem")
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        table.add_row(str(problem.line), problem.id or "", problem.message)
    console.print(table)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        console.print(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")


def stop_message(stats: BatchStats) -> str:
    """One sentence saying how the run ended."""
    if stats.stop_reason is None:
        return "finished: every planned row was tried" + (f"; {stats.failed} failed" if stats.failed else "")
    return f"stopped ({stats.stop_reason}): {stats.stop_detail}"


def print_summary(console: Console, stats: BatchStats, snap: MetricsSnapshot, *, run_id: str,
                  run_spent: Decimal | None, budget_left: Decimal | None, output: Path, errors: Path,
                  already_done: int) -> None:
    """The end-of-run table: counts, cost, time, retries, throttling, and where the files are."""
    rate = stats.done / stats.elapsed if stats.elapsed > 0 else 0.0
    table = Table(title="batch summary", title_justify="left", show_header=False, title_style="bold")
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("rows done now", f"{stats.done:,}" + (f" (+{already_done:,} done before)" if already_done else "")),
        ("rows failed", f"{stats.failed:,}" + (f" (see {errors})" if stats.failed else "")),
        ("rows not done", f"{stats.not_done:,}" + (f" ({stats.cancelled} cancelled in flight)"
                                                   if stats.cancelled else "")),
        ("cost of this run", money(stats.cost) + (f" (+{stats.unpriced} rows without a price)"
                                                  if stats.unpriced else "")),
        ("budget run", f"{run_id}: spent {money(run_spent)}"
         + ("" if budget_left is None else f", {money(budget_left)} left")),
        ("time", f"{stats.elapsed:,.1f} s ({rate:,.1f} rows/s)"),
        ("requests", f"{snap.requests:,} ({snap.retries:,} retries, {snap.responses_429:,} answered 429)"),
        ("rate-limit waits", f"{snap.rate_limit_waits:,} ({snap.rate_limit_wait_s:,.1f} s in total)"),
        ("breaker changes", f"{snap.breaker_transitions:,}"),
        ("output", str(output)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    style = "green" if stats.stop_reason is None and not stats.failed else "yellow"
    console.print(f"[{style}]{stop_message(stats)}[/]")
    if stats.not_done and stats.stop_reason not in (None, "fatal"):
        console.print("[dim]run the same command again to send the rows not done (done rows are skipped)[/]")
