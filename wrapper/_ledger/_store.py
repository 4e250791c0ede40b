"""Ledger storage: the Store interface, the in-memory store, and ``open_store(url)``.

A store keeps one budget row per run (``ledger_runs``: committed, reserved and uncertain USD), one row per client
lease (``ledger_leases``, see :mod:`wrapper._ledger._lease`) and one history row per finished attempt
(``ledger_attempts``). Every method is one atomic transaction. Budget safety lives in the lease transactions:
taking a lease checks the limit and moves money into ``reserved``; flushing history moves each charge from the
lease's ``held`` to ``committed``/``uncertain``, so a flush that never happens (a SIGKILL) leaves the money
counted in its lease -- a record, not a hole. The records are in :mod:`wrapper._ledger._records`; the SQL, shared
by SQLite, PostgreSQL and the in-memory store, in :mod:`wrapper._ledger._sql`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .._errors import ConfigError
from ._lease import LeaseRequest, LeaseRow
from ._records import (
    COLUMNS,
    OUTCOMES,
    ZERO,
    Entry,
    Heartbeat,
    LeaseAnswer,
    LedgerRow,
    RunTotals,
    WriteAnswer,
    charge_of,
    settle_deltas,
)
from ._sqlite import SQLiteStore

__all__ = [
    "COLUMNS",
    "OUTCOMES",
    "ZERO",
    "Entry",
    "Heartbeat",
    "LeaseAnswer",
    "LedgerRow",
    "MemoryStore",
    "RunTotals",
    "Store",
    "WriteAnswer",
    "charge_of",
    "default_ledger_path",
    "open_store",
    "settle_deltas",
]


class Store(Protocol):
    """What the ledger needs from storage; every method is one atomic transaction."""

    def take_lease(self, req: LeaseRequest) -> LeaseAnswer:
        """Settle the run's expired leases, then grant ``req.need`` plus an extra (:func:`._lease.grant`) to the
        lease if it fits under the limit; if it does not, give ``req.give_back`` of the lease back to the run."""

    def write(self, entries: Sequence[Entry], heartbeat: Heartbeat | None) -> WriteAnswer:
        """Insert history rows, move their charges out of their leases, and refresh a lease's heartbeat."""

    def end_lease(self, lease_id: str, run_id: str, keep: Decimal, now: datetime) -> RunTotals:
        """Give all but ``keep`` (calls still in flight) back to the run; close the lease when ``keep`` is 0."""

    def reconcile(self, run_id: str | None, now: datetime) -> list[LeaseRow]:
        """Settle every expired lease (of one run, or all) as an uncertain charge; return them."""

    def leases(self, run_id: str | None = None) -> list[LeaseRow]:
        """Return leases (of one run, or all), oldest first."""

    def totals(self, run_id: str) -> RunTotals:
        """Return a run's totals (zeros for an unknown run)."""

    def rows(
        self, *, run_id: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[LedgerRow]:
        """Return history rows ordered by time, optionally of one run and within ``[since, until)``."""

    def close(self) -> None:
        """Release connections; idempotent."""


class MemoryStore(SQLiteStore):
    """A store in this process's memory (tests, demos, ``TOGETHER_LEDGER_URL=memory``): SQLite's ``:memory:``
    database, so it keeps exactly the same books as the file and PostgreSQL stores."""

    def __init__(self) -> None:
        super().__init__(":memory:")


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
    return SQLiteStore(path)
