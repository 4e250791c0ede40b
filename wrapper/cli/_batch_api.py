"""``together-wrapper batch INPUT --out OUTPUT --via batch-api``: the same job through Together's Batch API.

Steps, and what makes each safe to repeat after a crash or Ctrl-C:

1. **Validate and estimate** as the real-time mode does, at the *batch* price (``batch:<model>``, see
   ``wrapper.reports.batch_model``): the expected and worst-case totals are shown, confirmed as today, and the
   worst case must fit what is left of ``MAX_ESTIMATED_COST`` (else exit 4, nothing uploaded). Each row's worst
   case is then reserved in the ledger.
2. **Record**: the state file (``_batch_api_state``) is written next to the output *before* anything is sent.
3. **Submit**: each part (<= 50,000 rows, <= 100 MB) is uploaded under a unique name, then a batch is created over
   it; the state is saved after each. A part with no ``file_id`` first looks for its name in ``files.list()``;
   a part with no ``batch_id`` first looks in ``batches.list()`` for a batch over its file. The client never
   resends an upload or a create that may have arrived, so neither is ever made twice.
4. **Wait**: polls ``batches.retrieve`` (through the client's limiter and retries) with a growing interval,
   showing status, progress, elapsed time and the expected cost so far.
5. **Collect**: downloads the output and error files, settles every row in the ledger (usage x batch price for
   answered rows, nothing for the rest), saves ``settled``, then writes the real-time mode's output and errors
   rows (ids already in the output are skipped) and saves ``written``. A resume after ``settled`` only writes.
6. ``--retry-failed-realtime`` sends the rows the batch did not answer through the real-time runner, under the
   same budget run. The state file is removed when every part is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from wrapper import APIConnectionError, APIStatusError, AsyncClient, BudgetExceededError, ConfigError, Settings
from wrapper.cli._batch_api_collect import collect
from wrapper.cli._batch_api_state import JobState, Part, request_line, split_rows, state_path
from wrapper.cli._files import ResultFile
from wrapper.cli._input import Row
from wrapper.cli._job import EXIT_USAGE, BatchJob, JobError, JobResult, _confirm, _Notes, _open, _send, _settings
from wrapper.cli._render import money
from wrapper.reports import batch_model

__all__ = ["ApiOptions", "run_batch_api"]

EXIT_BUDGET, EXIT_INTERRUPTED = 4, 130


@attrs.frozen(kw_only=True)
class ApiOptions:
    """The options only the Batch API mode has (see ``batch --help``)."""

    cancel: bool = False
    retry_failed_realtime: bool = False
    poll_interval: float = 5.0
    poll_max: float = 60.0


def run_batch_api(job: BatchJob, console: Console, options: ApiOptions | None = None, *,
                  settings: Settings | None = None, interactive: bool | None = None,
                  show_progress: bool = True) -> JobResult:
    """Run (or resume, or cancel) a Batch API job and return its exit code; see the module docstring."""
    import sys

    options = options or ApiOptions()
    try:
        rows, results = _open(job, console)
    except JobError as exc:
        console.print(f"[red]{exc}[/]")
        return JobResult(exc.code)
    ask = sys.stdin.isatty() if interactive is None else interactive
    result = JobResult(EXIT_USAGE)
    try:
        result = asyncio.run(_run(job, console, options, rows, results, settings, ask, show_progress))
    except JobError as exc:
        console.print(f"[red]{exc}[/]")
        result = JobResult(exc.code)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted: the batch keeps running at Together; run the same command again to "
                      f"resume from {state_path(job.output)} (nothing is uploaded or paid twice)[/]")
        result = JobResult(EXIT_INTERRUPTED)
    finally:
        results.close(discard_if_unused=not state_path(job.output).exists() and result.run_id is None)
    return result


async def _run(job: BatchJob, console: Console, options: ApiOptions, rows: list[Row], results: ResultFile,
               base: Settings | None, interactive: bool, show_progress: bool) -> JobResult:
    path = state_path(job.output)
    try:
        state = JobState.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise JobError(f"{path}: {exc}", EXIT_USAGE) from None
    if state is None and options.cancel:
        raise JobError(f"no Batch API job to cancel: {path} does not exist", EXIT_USAGE)
    settings = _settings(job, state.run_id if state else job.run_id or results.run_id, base)
    if state is not None:
        settings = settings.evolve(model=state.model)
    try:
        client = AsyncClient(settings)
    except ConfigError as exc:
        raise JobError(str(exc), EXIT_USAGE) from None
    by_key = {r.key: r for r in rows}
    try:
        if state is None:
            pending = [r for r in rows if (job.shard is None or r.key in job.shard) and r.key not in results.done]
            if not pending:
                console.print(f"nothing to send: every row of {job.input} is in {job.output}")
                return JobResult(0, client.run_id)
            state = _plan(job, console, client, pending, interactive, path)
        else:
            console.print(f"resuming the Batch API job in {path} ({len(state.parts)} part(s))")
            missing = [k for p in state.parts for k in p.ids if k not in by_key]
            if missing:
                raise JobError(f"{path} names {len(missing):,} row id(s) not in {job.input} (first: {missing[0]!r}); "
                               "use the input it was started with", EXIT_USAGE)
        held = await _reserve(client, state, by_key)
        if options.cancel:
            await _cancel(client, state, console)
        await _submit(client, state, by_key, console)
        await _wait(client, state, options, console, show_progress, held)
        failed = await collect(client, state, by_key, held, results, job)
        state.remove()
        return await _finish(job, console, client, options, results, failed, state, show_progress)
    finally:
        await client.aclose()


def _plan(job: BatchJob, console: Console, client: AsyncClient, pending: list[Row], interactive: bool,
          path: Any) -> JobState:
    """Estimate at the batch price, check the budget, confirm, and write the state file (before any upload)."""
    s = client.settings
    max_tokens = job.max_tokens or s.default_max_tokens
    worst, expected, realtime, unknown = Decimal(0), Decimal(0), Decimal(0), 0
    for row in pending:
        est = _estimate(client, row, s.model, max_tokens)
        live = _estimate(client, row, s.model, max_tokens, batch=False)
        if est.cost is None or est.expected_cost is None:
            unknown += 1
            continue
        worst, expected = worst + est.cost, expected + est.expected_cost
        realtime += live.cost or Decimal(0)
    if unknown and s.max_estimated_cost is not None:
        raise JobError(f"{unknown:,} rows use a model without a known price, so the budget cannot be kept; "
                       "set TOGETHER_FALLBACK_PRICE or TOGETHER_PRICES_FILE", EXIT_USAGE)
    left = client.ledger.remaining()
    console.print(f"[bold]{len(pending):,} rows to send through the Batch API[/] to {s.model}, max_tokens "
                  f"{max_tokens}: [bold]expected {money(expected)}, at most {money(worst)} at the batch price[/] "
                  f"(at most {money(realtime)} in real time); latency minutes to hours; budget run {client.run_id}: "
                  + ("no budget" if left is None else f"{money(left)} left"))
    if left is not None and worst > left:
        raise JobError(f"the worst case {money(worst)} does not fit the budget left ({money(left)}): nothing was "
                       "uploaded; raise --max-cost / MAX_ESTIMATED_COST or send fewer rows", EXIT_BUDGET)
    threshold = job.confirm_above if job.confirm_above is not None else s.confirm_above_cost
    _confirm(console, rows=len(pending), estimate=worst, expected=expected, unknown=unknown,
             threshold=threshold if threshold is not None else Decimal(0), yes=job.yes, interactive=interactive)
    try:
        parts = split_rows(pending, s.model, max_tokens)
    except ValueError as exc:
        raise JobError(str(exc), EXIT_USAGE) from None
    state = JobState.new(path, input=str(job.input), run_id=client.run_id, model=s.model, max_tokens=max_tokens,
                         parts=parts)
    state.save()
    return state


def _estimate(client: AsyncClient, row: Row, model: str, max_tokens: int, *, batch: bool = True) -> Any:
    name = row.model or model
    return client.ledger.estimate(batch_model(name) if batch else name, row.messages,
                                  row.params.get("max_tokens", max_tokens), tools=row.params.get("tools"),
                                  response_format=row.params.get("response_format"))


async def _reserve(client: AsyncClient, state: JobState, by_key: dict[str, Row]) -> dict[str, Any]:
    """Hold each unsettled row's worst case at the batch price (in this process's ledger lease)."""
    held: dict[str, Any] = {}
    try:
        for part in state.parts:
            if part.settled:
                continue
            for key in part.ids:
                est = _estimate(client, by_key[key], state.model, state.max_tokens)
                held[key] = client.ledger.try_reserve(est) or await asyncio.to_thread(client.ledger.reserve, est)
    except BudgetExceededError as exc:
        raise JobError(f"the budget cannot hold this batch's worst case: {exc}", EXIT_BUDGET) from None
    return held


async def _submit(client: AsyncClient, state: JobState, by_key: dict[str, Row], console: Console) -> None:
    """Upload each part and create its batch, finding (never repeating) a step a crash left unanswered."""
    for part in state.parts:
        if part.terminal:  # cancelled before its batch existed
            continue
        if part.file_id is None:
            part.file_id = await _find_file(client, part.file_name)
            if part.file_id is None:
                data = b"".join(request_line(by_key[k], state.model, state.max_tokens) for k in part.ids)
                request_file = state.request_file(part)
                await asyncio.to_thread(request_file.write_bytes, data)  # the request file, beside the state
                part.file_id = (await client.files.upload(request_file, file_name=part.file_name, timeout=600.0)).id
                console.print(f"uploaded {request_file} ({len(data):,} bytes) as {part.file_id}")
            state.save()
        if part.batch_id is None:
            part.batch_id = await _find_batch(client, part.file_id)
            if part.batch_id is None:
                models = {by_key[k].model or state.model for k in part.ids}
                made = await client.batches.create(input_file_id=part.file_id,
                                                   model_id=models.pop() if len(models) == 1 else None)
                part.batch_id, part.status = made.id, made.status or None
                console.print(f"created batch {part.batch_id} over {part.file_id}")
            state.save()


async def _find_file(client: AsyncClient, name: str) -> str | None:
    return next((f.id for f in await client.files.list() if f.filename == name), None)


async def _find_batch(client: AsyncClient, file_id: str) -> str | None:
    return next((j.id for j in await client.batches.list() if j.input_file_id == file_id), None)


async def _cancel(client: AsyncClient, state: JobState, console: Console) -> None:
    """Cancel each part's running batch; a part whose batch was never created (not even by a lost answer) is
    marked cancelled here, so nothing is created for it."""
    for part in state.parts:
        if part.batch_id is None and part.file_id is not None:
            part.batch_id = await _find_batch(client, part.file_id)
            state.save()
        if part.batch_id is None:
            part.status = "CANCELLED"
            state.save()
            continue
        if not part.terminal:
            job = await client.batches.cancel(part.batch_id)
            console.print(f"cancel requested for batch {part.batch_id} ({job.status}); rows done are kept")


async def _wait(client: AsyncClient, state: JobState, options: ApiOptions, console: Console, show: bool,
                held: dict[str, Any]) -> None:
    """Poll every batch until each is terminal, backing off between rounds (the limiter paces each request)."""
    expected = sum((r.estimate.expected_cost or Decimal(0) for r in held.values()), Decimal(0))
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[cost]}"))
    progress = Progress(*columns, console=console, disable=not show, transient=False)
    task = progress.add_task("submitted", total=100.0, cost="")
    delay, started = options.poll_interval, time.monotonic()
    with progress:
        while True:
            shares: list[float] = []
            for part in state.parts:
                shares.append(100.0 if part.terminal else await _poll(client, state, part))
            done = sum(shares) / max(1, len(shares))
            statuses = ", ".join(sorted({p.status or "?" for p in state.parts}))
            progress.update(task, completed=done, description=statuses,
                            cost=f"~{money(expected * Decimal(str(round(done, 2))) / 100)} so far")
            if all(p.terminal for p in state.parts):
                break
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, max(options.poll_max, options.poll_interval))
    console.print(f"batch finished ({statuses}) after {time.monotonic() - started:.0f} s")


async def _poll(client: AsyncClient, state: JobState, part: Part) -> float:
    assert part.batch_id is not None
    try:
        job = await client.batches.retrieve(part.batch_id)
    except (APIConnectionError, APIStatusError) as exc:  # the client already retried: try again next round
        if isinstance(exc, APIStatusError) and exc.status_code < 500 and exc.status_code != 429:
            raise
        return 0.0
    changed = (job.status, job.output_file_id, job.error_file_id) != (part.status, part.output_file_id,
                                                                      part.error_file_id)
    part.status = (job.status or "").upper() or None
    part.output_file_id, part.error_file_id = job.output_file_id or None, job.error_file_id or None
    if changed:
        state.save()
    return float(job.progress or 0.0)


async def _finish(job: BatchJob, console: Console, client: AsyncClient, options: ApiOptions, results: ResultFile,
                  failed: Sequence[Row], state: JobState, show: bool) -> JobResult:
    total = sum(len(p.ids) for p in state.parts)
    summary = client.ledger.summary()
    console.print(f"Batch API: {total - len(failed):,} of {total:,} rows answered, {len(failed):,} failed or not "
                  f"processed; run {client.run_id} spent {money(summary.committed + summary.uncertain)}")
    if failed and options.retry_failed_realtime:
        console.print(f"retrying {len(failed):,} row(s) in real time (same budget run)")
        again = await _send(job, console, client, list(failed), results, _Notes(), state.max_tokens, show,
                            already_done=total - len(failed))
        return again
    return JobResult(1 if failed else 0, client.run_id)
