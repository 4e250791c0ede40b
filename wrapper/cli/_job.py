"""One batch job from options to exit code: check, resume, shard, estimate, confirm, run, summarise.

Order matters for money: the whole input is checked before anything is sent; the output is locked and read
before estimating, so rows already done are neither estimated nor paid for again; the estimate is shown and,
above the confirmation threshold, confirmed before the first request. A resumed output names its budget run
(``run_id`` on each line), so a resume continues the same budget unless ``--run-id`` says otherwise.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.prompt import Confirm

from wrapper import AsyncClient, BreakerStateChanged, ConfigError, Event, MetricsSnapshot, ModelFallback, Settings
from wrapper.cli._batch import BatchRunner
from wrapper.cli._batch_stats import BatchStats, ProgressSink, exit_code
from wrapper.cli._files import JsonlAppender, OutputError, ResultFile, default_errors_path
from wrapper.cli._input import Row, Shard, read_input
from wrapper.cli._preflight import EXIT_NOT_SERVED, SwitchGate, preflight
from wrapper.cli._recovery import check_writable, prune_errors
from wrapper.cli._render import QuietProgress, RichProgress, money, print_problems, print_summary

__all__ = ["BatchJob", "JobError", "JobResult", "run_job"]

EXIT_USAGE, EXIT_REFUSED = 2, 3


class JobError(Exception):
    """The job cannot start; ``code`` is the exit code (2 input/usage, 3 confirmation refused)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen(kw_only=True)
class BatchJob:
    """The options of ``together-wrapper batch`` (see its ``--help``)."""

    input: Path
    output: Path
    errors: Path | None = None
    model: str | None = None
    max_tokens: int | None = None
    concurrency: int = 8
    max_cost: Decimal | None = None
    yes: bool = False
    run_id: str | None = None
    skip_invalid: bool = False
    shard: Shard | None = None
    confirm_above: Decimal | None = None
    breaker_patience: float | None = None  # None: TOGETHER_BREAKER_PATIENCE
    fsync: bool = False
    fallbacks: tuple[str, ...] = ()  # --fallback, in order; empty: TOGETHER_MODEL_FALLBACKS


@attrs.frozen
class JobResult:
    """How the job ended; ``stats``/``metrics`` are None when it never started sending."""

    code: int
    run_id: str | None = None
    stats: BatchStats | None = None
    metrics: MetricsSnapshot | None = None


class _Notes:
    """The client's event hook: breaker moves are shown above the progress bar."""

    def __init__(self) -> None:
        self.sink: ProgressSink = QuietProgress()

    def __call__(self, event: Event) -> None:
        if isinstance(event, BreakerStateChanged):
            self.sink.note(f"breaker for {event.model}: {event.old} -> {event.new} after {event.failures} failures")
        elif isinstance(event, ModelFallback):
            self.sink.note(f"model {event.model} -> fallback {event.fallback} ({event.reason.replace('_', ' ')})")


def _load(job: BatchJob, console: Console) -> list[Row]:
    try:
        report = read_input(job.input)
    except (OSError, UnicodeDecodeError) as exc:
        raise JobError(f"cannot read {job.input}: {exc}", EXIT_USAGE) from None
    if report.problems:
        print_problems(console, report.problems, job.input)
        if not job.skip_invalid:
            raise JobError("refusing to start: fix the rows above, or pass --skip-invalid to send only the valid "
                           "ones", EXIT_USAGE)
    if not report.rows:
        raise JobError(f"no valid rows in {job.input}", EXIT_USAGE)
    return report.rows


def _settings(job: BatchJob, run_id: str | None, base: Settings | None) -> Settings:
    """The job's settings; the pool keeps at least one idle connection per worker (no reconnect churn)."""
    overrides: dict[str, Any] = {"max_estimated_cost": job.max_cost, "run_id": run_id, "model": job.model}
    try:
        if base is not None:
            settings = base.evolve(**{k: v for k, v in overrides.items() if v is not None})
        else:
            settings = Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})  # None: not given
        return settings.evolve(max_connections=max(settings.max_connections, job.concurrency),
                               max_keepalive_connections=max(settings.max_keepalive_connections, job.concurrency))
    except ConfigError as exc:
        raise JobError(str(exc), EXIT_USAGE) from None


def _estimate(client: AsyncClient, rows: Sequence[Row], model: str,
              max_tokens: int, route: Callable[[str], str] | None = None) -> tuple[Decimal, Decimal, int]:
    """The worst-case and the expected total cost of ``rows``, and how many rows have no price (cost unknown).

    The worst case is what the budget reserves and what a person confirms; the expected cost is for reading.
    ``route`` maps a row's model to the model expected to answer it (a served fallback after the preflight).
    """
    worst, expected, unknown = Decimal(0), Decimal(0), 0
    for row in rows:
        target = row.model or model
        est = client.ledger.estimate(route(target) if route else target, row.messages,
                                     row.params.get("max_tokens", max_tokens),
                                     tools=row.params.get("tools"), response_format=row.params.get("response_format"))
        if est.cost is None or est.expected_cost is None:
            unknown += 1
        else:
            worst += est.cost
            expected += est.expected_cost
    return worst, expected, unknown


def _confirm(console: Console, *, rows: int, estimate: Decimal, expected: Decimal, unknown: int, threshold: Decimal,
             yes: bool, interactive: bool) -> None:
    """Ask a person (or require --yes) when the worst case is above the threshold or some prices are unknown."""
    if yes or (estimate <= threshold and not unknown):
        return
    what = f"{rows:,} requests, expected {money(expected)}, at most {money(estimate)}" + (
        f" plus {unknown:,} rows at an unknown price" if unknown else "")
    if not interactive:
        raise JobError(f"{what}, above the confirmation threshold {money(threshold)}: not confirmed. "
                       "No terminal to ask; pass --yes to confirm (or raise --confirm-above / CONFIRM_ABOVE_COST)",
                       EXIT_REFUSED)
    if not Confirm.ask(f"Send {what}?", console=console, default=False):
        raise JobError("not confirmed; nothing was sent", EXIT_REFUSED)


def _describe(console: Console, job: BatchJob, client: AsyncClient, *, total: int, in_shard: int, pending: int,
              max_tokens: int, estimate: Decimal, expected: Decimal, unknown: int, model: str | None = None) -> None:
    """The plan, before anything is sent: counts, the expected and worst-case total cost, and the budget left."""
    left = client.ledger.remaining()
    console.print(
        f"{total:,} valid rows in {job.input}" + (f"; {in_shard:,} in shard {job.shard}" if job.shard else "")
        + f"; {in_shard - pending:,} already done in {job.output}"
        + f"\n[bold]{pending:,} to send[/] to {model or client.settings.model}, max_tokens {max_tokens}: "
        + f"[bold]total cost expected {money(expected)}, at most {money(estimate)}[/]"
        + (f" (+{unknown:,} rows without a price)" if unknown else "")
        + f"; budget run {client.run_id}: " + ("no budget" if left is None else f"{money(left)} left"))
    if left is not None and estimate > left:
        console.print("[yellow]the worst case exceeds the budget left: the run may stop when it is used "
                      "(exit 4); raise --max-cost to finish every row[/]")


def _open(job: BatchJob, console: Console) -> tuple[list[Row], ResultFile]:
    """Read and check the input, then check the output and errors files writable and open the output, before
    anything is paid for (both modes of ``batch``).

    Raises:
        JobError: invalid input (exit 2 unless ``--skip-invalid``), or an output that cannot be written (exit 2).
    """
    rows = _load(job, console)
    try:
        check_writable(job.output)
        check_writable(job.errors or default_errors_path(job.output))
        return rows, ResultFile(job.output, durable=job.fsync)
    except (OutputError, OSError) as exc:
        raise JobError(str(exc), EXIT_USAGE) from None


def run_job(job: BatchJob, console: Console, *, settings: Settings | None = None, interactive: bool | None = None,
            show_progress: bool = True) -> JobResult:
    """Run a batch job and return its exit code (printing the plan, progress and summary on ``console``).

    Args:
        settings: use these instead of ``Settings.from_env()`` (the demo); the job's options still apply.
        interactive: whether a person can answer the confirmation; default: stdin is a terminal.
        show_progress: draw the progress bar (off for benchmarks).
    """
    try:
        rows, results = _open(job, console)
    except JobError as exc:
        console.print(f"[red]{exc}[/]")
        return JobResult(exc.code)
    ask = sys.stdin.isatty() if interactive is None else interactive
    result = JobResult(EXIT_USAGE)
    try:
        result = asyncio.run(_run(job, console, rows, results, settings, ask, show_progress))
    except JobError as exc:
        console.print(f"[red]{exc}[/]")
        result = JobResult(exc.code)
    finally:
        results.close(discard_if_unused=result.stats is None)  # no empty output left by a refused job
    return result


async def _run(job: BatchJob, console: Console, rows: list[Row], results: ResultFile, base: Settings | None,
               interactive: bool, show_progress: bool) -> JobResult:
    if results.repaired:
        console.print(f"[yellow]{job.output}: removed a torn last line left by a crash[/]")
    if results.recovered:
        console.print(f"[yellow]{job.output}: added {results.recovered} answer(s) an earlier run could not write "
                      "(from its recovery file; not sent again)[/]")
    in_shard = [r for r in rows if job.shard is None or r.key in job.shard]
    pending = [r for r in in_shard if r.key not in results.done]
    settings = _settings(job, job.run_id or results.run_id, base)
    limit = job.confirm_above if job.confirm_above is not None else settings.confirm_above_cost
    threshold = limit if limit is not None else Decimal(0)
    notes, gate = _Notes(), SwitchGate(console, threshold=threshold, yes=job.yes, interactive=interactive)
    try:  # every call asks the gate: planned models pass, a fallback met mid-run is re-planned (see _preflight)
        settings = settings.evolve(confirm_above_cost=Decimal(0), **_chain_options(job))
        client = AsyncClient(settings, on_event=notes, confirm=gate)
    except ConfigError as exc:
        raise JobError(str(exc), EXIT_USAGE) from None
    try:
        max_tokens = job.max_tokens or settings.default_max_tokens
        planned = [r.model or settings.model for r in pending]
        routes = await preflight(console, client, planned, settings.model_fallbacks)
        problem = routes.problem()
        if problem is not None:
            raise JobError(problem, EXIT_NOT_SERVED)
        estimate, expected, unknown = _estimate(client, pending, settings.model, max_tokens, routes.route)
        if unknown and settings.max_estimated_cost is not None:
            raise JobError(f"{unknown:,} rows use a model without a known price, so the budget cannot be kept; "
                           "set TOGETHER_FALLBACK_PRICE or TOGETHER_PRICES_FILE", EXIT_USAGE)
        _describe(console, job, client, total=len(rows), in_shard=len(in_shard), pending=len(pending),
                  max_tokens=max_tokens, estimate=estimate, expected=expected, unknown=unknown,
                  model=routes.route(settings.model))
        _confirm(console, rows=len(pending), estimate=estimate, expected=expected, unknown=unknown,
                 threshold=threshold, yes=job.yes, interactive=interactive)
        gate.approve([routes.route(m) for m in planned])

        def rest_cost(model: str | None) -> Decimal:
            rest = [r for r in pending if r.key not in results.done]
            return _estimate(client, rest, settings.model, max_tokens,
                             routes.route if model is None else (lambda _: model))[0]

        gate.rest_cost = rest_cost
        result = await _send(job, console, client, pending, results, notes, max_tokens, show_progress,
                           already_done=len(in_shard) - len(pending))
        if gate.refused:
            console.print(f"[yellow]{gate.refused}[/]")
        return result
    finally:
        await client.aclose()


def _chain_options(job: BatchJob) -> dict[str, Any]:
    """The fallback chain's settings from the command line (unset options keep the environment's)."""
    options: dict[str, Any] = {}
    if job.fallbacks:
        options["model_fallbacks"] = job.fallbacks
    if job.breaker_patience is not None:
        options["breaker_patience"] = job.breaker_patience
    return options


async def _send(job: BatchJob, console: Console, client: AsyncClient, pending: list[Row], results: ResultFile,
                notes: _Notes, max_tokens: int, show_progress: bool, *, already_done: int) -> JobResult:
    errors_path = job.errors or default_errors_path(job.output)
    errors = JsonlAppender(errors_path, durable=job.fsync)
    bar = RichProgress(console, len(pending), budget_left=client.ledger.remaining) if show_progress else None
    notes.sink = bar or QuietProgress()
    runner = BatchRunner(client, pending, results=results, errors=errors, progress=notes.sink,
                         model=client.settings.model, max_tokens=max_tokens, concurrency=job.concurrency,
                         breaker_patience=client.settings.breaker_patience)
    try:
        if bar is not None:
            with bar:
                stats = await runner.run()
        else:
            stats = await runner.run()
    finally:
        errors.close()
        try:  # rows that failed before and are done now leave the errors file
            prune_errors(errors_path, results.done)
        except OSError as exc:
            console.print(f"[yellow]could not rewrite {errors_path}: {exc}[/]")
    snap = client.metrics.snapshot()
    summary = client.ledger.summary()
    print_summary(console, stats, snap, run_id=client.run_id, run_spent=summary.committed + summary.uncertain,
                  budget_left=summary.remaining, output=job.output, errors=errors_path, already_done=already_done)
    return JobResult(exit_code(stats), client.run_id, stats, snap)
