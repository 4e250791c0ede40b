"""The small commands: ``chat`` (one prompt), ``models`` (with prices), ``costs`` (ledger totals), ``dashboard``.

``costs`` and ``dashboard`` only read the ledger (``TOGETHER_LEDGER_URL``), so they need no API key and send
nothing. Machine-readable output (``--csv``, ``--json``) goes to stdout untouched; everything for people goes
through rich.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from wrapper import Client, Settings
from wrapper.cli._render import money
from wrapper.reports import (
    GroupBy,
    Total,
    grand_total,
    lease_totals,
    open_ledger,
    to_csv,
    to_json,
    totals,
    write_dashboard,
)

__all__ = ["chat", "costs", "dashboard", "models", "parse_day"]

Format = Literal["table", "csv", "json"]


def parse_day(text: str | None) -> datetime | None:
    """``2026-11-27`` or a full ISO time -> an aware UTC datetime (None passes through).

    Raises:
        ValueError: not an ISO date or time.
    """
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def chat(console: Console, prompt: str, *, model: str | None, max_tokens: int, system: str | None,
         temperature: float | None) -> None:
    """Send one prompt and print the answer to stdout as it streams in; usage and cost go to ``console``."""
    messages: list[dict[str, Any]] = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}]
    params: dict[str, Any] = {"max_tokens": max_tokens}
    if temperature is not None:
        params["temperature"] = temperature
    with Client() as client:
        with client.chat.completions.create(messages=messages, model=model, stream=True, **params) as stream:
            for chunk in stream:
                for choice in chunk.to_dict().get("choices") or []:
                    sys.stdout.write((choice.get("delta") or {}).get("content") or "")
                sys.stdout.flush()
        sys.stdout.write("\n")
        snap = client.metrics.snapshot()
    console.print(f"[dim]{snap.prompt_tokens} tokens in, {snap.completion_tokens} out, "
                  f"{money(snap.cost_usd)}, {snap.requests} request(s)[/]")


def models(console: Console, *, kind: str | None, as_json: bool) -> None:
    """List the models the key can use, with their prices (USD per 1M tokens)."""
    with Client() as client:
        found = [m.to_dict() for m in client.models.list()]
    if kind:
        found = [m for m in found if m.get("type") == kind]
    found.sort(key=lambda m: str(m.get("id")))
    if as_json:
        import json

        sys.stdout.write(json.dumps(found, indent=2) + "\n")
        return
    table = Table(title=f"{len(found)} models", title_justify="left")
    for name, justify in (("id", "left"), ("type", "left"), ("context", "right"), ("in $/1M", "right"),
                          ("out $/1M", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for m in found:
        price = m.get("pricing") or {}
        table.add_row(str(m.get("id")), str(m.get("type") or ""), f"{m.get('context_length') or '':,}"
                      if isinstance(m.get("context_length"), int) else "", _price(price.get("input")),
                      _price(price.get("output")))
    console.print(table)


def _price(value: object) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else ""


def _ledger_rows(run: str | None, since: str | None, until: str | None) -> tuple[list[Any], Settings]:
    settings = Settings.from_env()
    with open_ledger(settings) as ledger:
        return ledger.rows(run_id=run, since=parse_day(since), until=parse_day(until)), settings


def _totals_table(title: str, groups: Sequence[Total]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("", "attempts", "ok", "errors", "uncertain", "in flight", "tokens in", "tokens out", "spent"):
        table.add_column(name, justify="left" if not name else "right")
    for t in groups:
        spent = money(t.spent) + (f" (+{t.unpriced} unpriced)" if t.unpriced else "")
        table.add_row(t.key, f"{t.attempts:,}", f"{t.ok:,}", f"{t.errors:,}", f"{t.uncertain:,}", f"{t.reserved:,}",
                      f"{t.prompt_tokens:,}", f"{t.completion_tokens:,}", spent)
    return table


def _leases_table(leases: Sequence[Any]) -> Table:
    table = Table(title="budget leases", title_justify="left")
    for name in ("run", "open", "expired", "closed", "stale", "granted", "held now", "returned", "stale charged"):
        table.add_column(name, justify="left" if name == "run" else "right")
    for t in leases:
        table.add_row(t.run_id, f"{t.open:,}", f"{t.expired:,}", f"{t.closed:,}", f"{t.stale:,}", money(t.granted),
                      money(t.held), money(t.returned), money(t.stale_charge))
    return table


def costs(console: Console, *, by: Sequence[GroupBy], run: str | None, since: str | None, until: str | None,
          fmt: Format, raw_rows: bool, leases: bool = False, reconcile: bool = False) -> None:
    """Print ledger totals by model, day and/or run (a table each) and the budget leases, or export them as
    CSV/JSON (``leases``: the lease records). ``reconcile`` first settles every expired lease of a dead client
    as an uncertain charge (what the next lease taken in its run would do)."""
    now = datetime.now(UTC)
    with open_ledger(Settings.from_env()) as ledger:
        settled = ledger.reconcile() if reconcile else []
        found = ledger.leases(run_id=run)
    if reconcile and fmt == "table":
        console.print(f"settled {len(settled)} stale lease(s) as uncertain charges: "
                      f"{money(sum((x.stale_charge for x in settled), Decimal(0)))}")
    rows, _ = _ledger_rows(run, since, until)
    if fmt != "table":
        records: Sequence[Any] = (found if leases else rows if raw_rows
                                  else totals(rows, by[0] if by else "model"))
        sys.stdout.write(to_csv(records) if fmt == "csv" else to_json(records) + "\n")
        return
    if found:
        console.print(_leases_table(lease_totals(found, now)))
    if not rows:
        console.print("no ledger rows" + (f" for run {run}" if run else "") + " (TOGETHER_LEDGER_URL)")
        return
    for group in by or ("model", "day", "run"):
        console.print(_totals_table(f"by {group}", totals(rows, group)))
    total = grand_total(rows)
    held = sum((x.held for x in found if x.state == "open" and x.held > 0), Decimal(0))
    console.print(f"[bold]total spent {money(total.spent)}[/] ({money(total.cost)} committed, "
                  f"{money(total.uncertain_cost)} uncertain, of which {money(total.stale_cost)} from "
                  f"{total.stale_leases} stale lease(s) of dead clients; {money(held)} held by open leases"
                  + (f", {money(total.reserved_cost)} by interrupted schema-1 calls" if total.reserved else "")
                  + f") over {total.attempts:,} attempts")


def dashboard(console: Console, out: Path, *, run: str | None, since: str | None, until: str | None,
              title: str) -> Path:
    """Write the offline HTML dashboard of the ledger rows (optionally one run or a time window) to ``out``."""
    rows, settings = _ledger_rows(run, since, until)
    limit: Decimal | None = settings.max_estimated_cost if run else None
    path = write_dashboard(out, rows, title=title, budget_limit=limit)
    console.print(f"wrote {path} ({len(rows):,} ledger rows)")
    return path
