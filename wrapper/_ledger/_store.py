"""Ledger storage: the row and totals records, the Store interface, the in-memory store, and ``open_store(url)``.

A store keeps two things: one row per attempt (``ledger_attempts``) and one budget row per run (``ledger_runs``,
running totals of committed, reserved and uncertain USD). Every method is one short atomic transaction, so the
budget check and the reservation row are written together: a crash between reserve and settle leaves a
``reserved`` row that later readers count as possibly spent -- a record, not a hole.

Outcomes: ``reserved`` (a call in flight; ``estimate`` is held), ``ok`` (``cost`` is the actual cost, None if the
price is unknown), ``error`` (a definite failure, cost 0), ``uncertain`` (may have been billed: ``cost`` is the
estimate, kept as a charge). Rows never hold the API key or message contents: there is no column for either.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import attrs

from .._errors import ConfigError

__all__ = [
    "OUTCOMES",
    "LedgerRow",
    "MemoryStore",
    "ReserveResult",
    "RunTotals",
    "Store",
    "default_ledger_path",
    "open_store",
    "settle_deltas",
]

OUTCOMES = ("reserved", "ok", "error", "uncertain")
ZERO = Decimal(0)


@attrs.frozen
class LedgerRow:
    """One attempt (or one call in flight, while ``outcome == "reserved"``).

    Attributes:
        id: unique row id; a reservation row's id is also its ``call_id``.
        time: when the row was last written, UTC (reserve time; for a settled call, the end of its last attempt).
        call_id: the reservation this attempt belongs to (every attempt of one call shares it).
        estimate: the call's maximum cost held by the reservation (USD), or None when the price is unknown.
        cost: actual cost (ok), the kept estimate (uncertain), 0 (error), None (unknown price, or still reserved).
        latency_ms: the attempt's duration; status: its HTTP status (None without an answer).
    """

    id: str
    time: datetime
    run_id: str
    call_id: str
    model: str
    outcome: str = attrs.field(validator=attrs.validators.in_(OUTCOMES))
    attempt: int = 0
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    estimate: Decimal | None = None
    cost: Decimal | None = None
    latency_ms: float | None = None
    status: int | None = None
    error_type: str | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in attrs.fields(LedgerRow))


@attrs.frozen
class RunTotals:
    """A run's budget row: USD committed (actual costs), reserved (calls in flight) and uncertain (kept charges)."""

    run_id: str
    committed: Decimal = ZERO
    reserved: Decimal = ZERO
    uncertain: Decimal = ZERO

    @property
    def spent(self) -> Decimal:
        """What has (or may have) been billed: committed + uncertain."""
        return self.committed + self.uncertain

    @property
    def used(self) -> Decimal:
        """What counts against the budget: committed + reserved + uncertain."""
        return self.committed + self.reserved + self.uncertain


@attrs.frozen
class ReserveResult:
    """The answer of :meth:`Store.reserve`: accepted or not, and the run's totals after (or as they stood)."""

    accepted: bool
    totals: RunTotals


def settle_deltas(row: LedgerRow) -> tuple[Decimal, Decimal]:
    """Return (committed, uncertain) increments a final row adds to its run's totals."""
    cost = row.cost or ZERO
    if row.outcome == "ok":
        return cost, ZERO
    if row.outcome == "uncertain":
        return ZERO, cost
    return ZERO, ZERO


class Store(Protocol):
    """What the ledger needs from storage; every method is one atomic transaction."""

    def reserve(self, row: LedgerRow, limit: Decimal | None) -> ReserveResult:
        """Atomically: if ``used + row.estimate <= limit`` (or no limit), insert the ``reserved`` row and hold it."""

    def settle(self, row: LedgerRow) -> RunTotals | None:
        """Replace the ``reserved`` row with the same id by its final state; None if it was not reserved."""

    def add(self, row: LedgerRow) -> RunTotals:
        """Insert an attempt row that does not end a reservation (an uncertain one adds its cost as a charge)."""

    def totals(self, run_id: str) -> RunTotals:
        """Return a run's totals (zeros for an unknown run)."""

    def rows(
        self, *, run_id: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[LedgerRow]:
        """Return rows ordered by time, optionally of one run and within ``[since, until)``."""

    def close(self) -> None:
        """Release connections; idempotent."""


def _in_window(row: LedgerRow, run_id: str | None, since: datetime | None, until: datetime | None) -> bool:
    return (
        (run_id is None or row.run_id == run_id)
        and (since is None or row.time >= since)
        and (until is None or row.time < until)
    )


class MemoryStore:
    """A thread-safe store in this process's memory (tests, demos, ``TOGETHER_LEDGER_URL=memory``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, LedgerRow] = {}
        self._runs: dict[str, RunTotals] = {}

    def reserve(self, row: LedgerRow, limit: Decimal | None) -> ReserveResult:
        with self._lock:
            totals = self._runs.get(row.run_id, RunTotals(row.run_id))
            amount = row.estimate or ZERO
            if limit is not None and totals.used + amount > limit:
                return ReserveResult(False, totals)
            totals = RunTotals(row.run_id, totals.committed, totals.reserved + amount, totals.uncertain)
            self._runs[row.run_id] = totals
            self._rows[row.id] = row
            return ReserveResult(True, totals)

    def settle(self, row: LedgerRow) -> RunTotals | None:
        with self._lock:
            old = self._rows.get(row.id)
            if old is None or old.outcome != "reserved":
                return None
            committed, uncertain = settle_deltas(row)
            t = self._runs[row.run_id]
            held = old.estimate or ZERO
            t = RunTotals(t.run_id, t.committed + committed, t.reserved - held, t.uncertain + uncertain)
            self._runs[row.run_id] = t
            self._rows[row.id] = attrs.evolve(row, estimate=old.estimate)
            return t

    def add(self, row: LedgerRow) -> RunTotals:
        with self._lock:
            committed, uncertain = settle_deltas(row)
            t = self._runs.get(row.run_id, RunTotals(row.run_id))
            t = RunTotals(t.run_id, t.committed + committed, t.reserved, t.uncertain + uncertain)
            self._runs[row.run_id] = t
            self._rows[row.id] = row
            return t

    def totals(self, run_id: str) -> RunTotals:
        with self._lock:
            return self._runs.get(run_id, RunTotals(run_id))

    def rows(
        self, *, run_id: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[LedgerRow]:
        with self._lock:
            found = [r for r in self._rows.values() if _in_window(r, run_id, since, until)]
        return sorted(found, key=lambda r: (r.time, r.id))

    def close(self) -> None:
        return None


def default_ledger_path() -> Path:
    """The default SQLite ledger: ``$XDG_DATA_HOME/together-wrapper/ledger.db`` (``~/.local/share/...``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "together-wrapper" / "ledger.db"


def _postgres(url: str, schema: str | None) -> Store:
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    named = query.pop("schema", [None])[-1]
    conninfo = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    from ._postgres import PostgresStore  # psycopg is optional: import only when asked for

    return PostgresStore(conninfo, schema=schema or named)


def open_store(url: str | None, *, schema: str | None = None) -> Store:
    """Open the store a ``TOGETHER_LEDGER_URL`` names.

    Args:
        url: None (the default SQLite file, see :func:`default_ledger_path`), ``memory``,
            ``sqlite:///abs/path.db`` (``sqlite://rel.db`` is relative), or ``postgresql://...``
            (optionally ``?schema=name``).
        schema: PostgreSQL schema to use (wins over ``?schema=``); tests give each run its own.

    Raises:
        ConfigError: unknown scheme, or the store cannot be opened (the message says which and why).
    """
    openers: dict[str, Callable[[str], Store]] = {
        "memory": lambda _: MemoryStore(),
        "sqlite": lambda u: _sqlite(Path(os.path.expanduser(u[len("sqlite://"):]))),
        "postgresql": lambda u: _postgres(u, schema),
        "postgres": lambda u: _postgres(u, schema),
    }
    if url is None:
        return _sqlite(default_ledger_path())
    scheme = "memory" if url.strip() == "memory" else urlsplit(url).scheme
    if scheme not in openers:
        raise ConfigError(
            f"TOGETHER_LEDGER_URL must be memory, sqlite:///path or postgresql://..., got scheme {scheme!r}"
        )
    return openers[scheme](url.strip())


def _sqlite(path: Path) -> Store:
    from ._sqlite import SQLiteStore

    return SQLiteStore(path)
