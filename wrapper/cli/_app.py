"""The typer app: each command's options and help, turned into a call and an exit code. No logic lives here.

Exit codes (every command): 0 done, 1 some rows/calls failed (or a batch stopped by a breaker or a fatal error),
2 invalid input or usage, 3 confirmation refused, 4 batch stopped by the budget, 5 batch stopped because the
account is out of credit (``credit_limit``), 6 batch stopped because a result could not be written (disk full;
the answers are in the recovery file it names), 7 batch not started because a model is not served (the message
lists the closest served chat models), 130 interrupted (Ctrl-C), 143 batch stopped by SIGTERM.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wrapper import ConfigError, Settings, TogetherError, __version__, enable_json_logs
from wrapper.cli._input import parse_shard
from wrapper.cli._job import BatchJob, run_job
from wrapper.cli._tools import chat as chat_command
from wrapper.cli._tools import costs as costs_command
from wrapper.cli._tools import dashboard as dashboard_command
from wrapper.cli._tools import models as models_command

__all__ = ["app"]

app = typer.Typer(
    name="together-wrapper", no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,  # locals could hold a key: never print them
    help="Budget-safe batches and tools for Together AI chat completions. Configured by TOGETHER_* variables "
         "and .env files (see the README); `together-wrapper demo` runs the main job offline.",
)
console = Console()
errors = Console(stderr=True)


@contextlib.contextmanager
def _exits() -> Iterator[None]:
    """Map what commands raise to exit codes and one readable line (no traceback for expected failures)."""
    try:
        yield
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except (ConfigError, ValueError) as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    except TogetherError as exc:
        errors.print(f"[red]{type(exc).__name__}: {exc}[/]")
        raise typer.Exit(1) from None


def _money(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.strip().lstrip("$"))
    except InvalidOperation:
        raise typer.BadParameter(f"expected an amount in USD such as 2.50, got {value!r}", param_hint=option) from None
    if not amount.is_finite() or amount < 0:
        raise typer.BadParameter(f"must be a finite amount >= 0, got {value!r}", param_hint=option)
    return amount


def _version(value: bool) -> None:
    if value:
        console.print(f"together-wrapper {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    log_file: Annotated[Path | None, typer.Option(help="write the SDK's logs (JSON lines) to this file only",
                                                  show_default="TOGETHER_LOG_LEVEL on stderr, else off")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    try:
        level = Settings.from_env().log_level
    except ConfigError:
        level = None  # the command reads the settings again and reports the problem with exit 2
    if log_file is not None:
        enable_json_logs(str(log_file), level=(level or "INFO").upper())
    elif level is not None:
        enable_json_logs(sys.stderr, level=level.upper())


class Via(StrEnum):
    """How ``batch`` sends the rows."""

    realtime = "realtime"
    batch_api = "batch-api"


@app.command()
def batch(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT.jsonl", help='rows: {"id": ..., "prompt": "..."} or '
                                               '{"id": ..., "messages": [...]}, plus optional per-row parameters')],
    out: Annotated[Path, typer.Option("--out", "-o", help="results, one JSON line per finished row; re-running "
                                      "the same command skips the ids already in it")],
    model: Annotated[str | None, typer.Option(help="model for rows naming none",
                                                        show_default="TOGETHER_MODEL_STAGE1")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="max_tokens for rows naming none",
                                                   show_default="TOGETHER_DEFAULT_MAX_TOKENS")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="rows in flight at once")] = 8,
    max_cost: Annotated[str | None, typer.Option(help="USD budget of the run",
                                                             show_default="MAX_ESTIMATED_COST")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    run_id: Annotated[str | None, typer.Option(help="budget run to charge (share it across machines)",
                                               show_default="the run named in OUTPUT, else a new one")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid",
                                                   help="send the valid rows even if some are invalid")] = False,
    shard: Annotated[str | None, typer.Option(metavar="I/N", help="send only shard I of N (1-based; by a stable "
                                              "hash of the id), so N machines cover every row once")] = None,
    errors_file: Annotated[Path | None, typer.Option("--errors", help="failed rows, with the typed reason",
                                                     show_default="OUTPUT with .errors.jsonl")] = None,
    confirm_above: Annotated[str | None, typer.Option(help="ask before sending when the estimate is above this "
                                                      "USD amount", show_default="CONFIRM_ABOVE_COST, else 0")] = None,
    breaker_patience: Annotated[float | None, typer.Option(
        min=0, help="move to the next --fallback (or stop when none is left) when a model's breaker stays open "
        "this many seconds", show_default="TOGETHER_BREAKER_PATIENCE, else 120")] = None,
    fallback: Annotated[list[str] | None, typer.Option(
        "--fallback", help="a model to use when the model is not served or its breaker stays open (repeatable, "
        "tried in order)", show_default="TOGETHER_MODEL_FALLBACKS")] = None,
    fsync: Annotated[bool, typer.Option("--fsync",
                                              help="fsync each result line (survives power loss, slower)")] = False,
    via: Annotated[Via, typer.Option(help="realtime: one request per row now; batch-api: Together's Batch API "
                                     "(about half the price, a separate rate limit, minutes to hours)")]
    = Via.realtime,
    cancel: Annotated[bool, typer.Option("--cancel", help="with --via batch-api: cancel the running batch "
                                         "(rows already done are still collected)")] = False,
    retry_failed_realtime: Annotated[bool, typer.Option(
        "--retry-failed-realtime", help="with --via batch-api: send rows the batch did not answer in real time")]
    = False,
    poll_interval: Annotated[float, typer.Option(min=0.01, help="with --via batch-api: first seconds between "
                                                 "status polls (grows 1.5x to 60 s)")] = 5.0,
) -> None:
    """Send every row of INPUT.jsonl, append each answer to OUTPUT as it lands, resume where a run stopped.

    Checks every row first (line numbers; refuses to start unless --skip-invalid) and every model against
    Together's model list (a model that is not served and has no served --fallback stops the run, naming the
    closest served chat models), prints the estimated total cost and asks before sending above the confirmation
    threshold (no terminal: refuses unless --yes).
    Ctrl-C stops cleanly (in-flight rows finish; press again to cancel them). Exit codes: 0 all done, 1 rows
    failed, 2 invalid input, 3 not confirmed, 4 budget reached, 5 out of credit, 6 a result could not be
    written (disk full), 7 a model is not served, 130 interrupted (143 on SIGTERM).
    """
    try:
        parsed_shard = parse_shard(shard) if shard is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from None
    job = BatchJob(input=input_file, output=out, errors=errors_file, model=model, max_tokens=max_tokens,
                   concurrency=concurrency, max_cost=_money(max_cost, "--max-cost"), yes=yes, run_id=run_id,
                   skip_invalid=skip_invalid, shard=parsed_shard, breaker_patience=breaker_patience, fsync=fsync,
                   confirm_above=_money(confirm_above, "--confirm-above"), fallbacks=tuple(fallback or ()))
    with _exits():
        if via is Via.batch_api:
            from wrapper.cli._batch_api import ApiOptions, run_batch_api

            options = ApiOptions(cancel=cancel, retry_failed_realtime=retry_failed_realtime,
                                 poll_interval=poll_interval)
            code = run_batch_api(job, console, options).code
        else:
            code = run_job(job, console).code
    raise typer.Exit(code)


@app.command()
def chat(
    prompt: Annotated[str, typer.Argument(help="what to ask")],
    model: Annotated[str | None, typer.Option(show_default="TOGETHER_MODEL_STAGE1")] = None,
    max_tokens: Annotated[int, typer.Option(min=1)] = 512,
    system: Annotated[str | None, typer.Option(help="a system message")] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2)] = None,
) -> None:
    """Ask one question and print the answer as it streams in."""
    with _exits():
        chat_command(errors, prompt, model=model, max_tokens=max_tokens, system=system, temperature=temperature)


@app.command()
def models(
    kind: Annotated[str | None, typer.Option("--type", help="only this type (chat, language, embedding, ...)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """List the models your key can use, with prices in USD per 1M tokens."""
    with _exits():
        models_command(console, kind=kind, as_json=as_json)


class Group(StrEnum):
    """What ``costs --by`` groups the ledger rows by."""

    model = "model"
    day = "day"
    run = "run"
    mode = "mode"  # real-time vs Batch API spend


@app.command()
def costs(
    by: Annotated[list[Group] | None, typer.Option(help="group by (repeatable)",
                                                         show_default="model, day and run")] = None,
    run: Annotated[str | None, typer.Option(help="only this run id")] = None,
    since: Annotated[str | None, typer.Option(help="from this UTC date/time (ISO), inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="until this UTC date/time (ISO), exclusive")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout (totals of the first --by, or --rows)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout (totals of the first --by, or --rows)")]
    = False,
    rows: Annotated[bool, typer.Option("--rows", help="with --csv/--json: every ledger row, not totals")] = False,
    leases: Annotated[bool, typer.Option("--leases", help="with --csv/--json: the budget leases")] = False,
    reconcile: Annotated[bool, typer.Option("--reconcile", help="first settle expired leases of dead clients "
                                            "(their held budget becomes an uncertain charge)")] = False,
) -> None:
    """Show what was spent, from the ledger (TOGETHER_LEDGER_URL); sends nothing, needs no key."""
    if csv and as_json:
        raise typer.BadParameter("choose one of --csv and --json")
    with _exits():
        costs_command(errors if (csv or as_json) else console, by=[g.value for g in by or []], run=run, since=since,
                      until=until, fmt="csv" if csv else "json" if as_json else "table", raw_rows=rows,
                      leases=leases, reconcile=reconcile)


@app.command()
def dashboard(
    out: Annotated[Path, typer.Option("--out", "-o", help="the HTML file to write")] = Path("dashboard.html"),
    run: Annotated[str | None, typer.Option(help="only this run id")] = None,
    since: Annotated[str | None, typer.Option(help="from this UTC date/time (ISO), inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="until this UTC date/time (ISO), exclusive")] = None,
    title: Annotated[str, typer.Option(help="the page heading")] = "Together usage",
) -> None:
    """Write a self-contained HTML dashboard (cost, tokens, outcomes, latency) from the ledger."""
    with _exits():
        dashboard_command(console, out, run=run, since=since, until=until, title=title)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="where results, ledger and dashboard go")]
    = Path("demo-out"),
    rows: Annotated[int, typer.Option(min=1, max=500, help="prompts in the demo batch")] = 40,
    seed: Annotated[int, typer.Option(help="seed of the injected faults")] = 7,
) -> None:
    """Run the main job offline: a batch through the real client against an embedded fake Together server
    with injected 429s, 503s and slow answers; writes results and a dashboard. No API key, no network."""
    from wrapper.cli._demo import run_demo  # imports the fake server (aiohttp.web) only when asked for

    with _exits():
        code = run_demo(console, out_dir, rows=rows, seed=seed)
    raise typer.Exit(code)
