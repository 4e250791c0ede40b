"""The SQLite ledger store (the default; several processes on one machine) and the SQL both SQL stores share.

Schema as in :mod:`wrapper._ledger._store` (tables created if missing, version in ``ledger_meta``); the
PostgreSQL store is :mod:`wrapper._ledger._postgres`. Each Store method is one short transaction, and the budget check
holds a lock for its whole length:

* SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before the totals are read, so the
  read-check-write of a reservation cannot interleave with another process's. WAL mode lets readers run
  during writes; ``busy_timeout`` makes writers queue instead of failing. ``synchronous=NORMAL``: in WAL mode a
  process crash loses nothing, a power cut may lose the last transactions. Decimals are stored as text (exact).

The connection is shared by the threads of one store, behind a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._store import COLUMNS, ZERO, LedgerRow, ReserveResult, RunTotals, settle_deltas

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "check_version", "ddl", "where_clause"]

SCHEMA_VERSION = "1"
_ATTEMPT_TYPES = {  # column -> (sqlite type, postgres type)
    "id": ("TEXT PRIMARY KEY", "text PRIMARY KEY"), "time": ("TEXT NOT NULL", "timestamptz NOT NULL"),
    "run_id": ("TEXT NOT NULL", "text NOT NULL"), "call_id": ("TEXT NOT NULL", "text NOT NULL"),
    "model": ("TEXT NOT NULL", "text NOT NULL"), "outcome": ("TEXT NOT NULL", "text NOT NULL"),
    "attempt": ("INTEGER NOT NULL", "integer NOT NULL"), "request_id": ("TEXT", "text"),
    "prompt_tokens": ("INTEGER", "integer"), "completion_tokens": ("INTEGER", "integer"),
    "estimate": ("TEXT", "numeric"), "cost": ("TEXT", "numeric"), "latency_ms": ("REAL", "double precision"),
    "status": ("INTEGER", "integer"), "error_type": ("TEXT", "text"),
}
assert tuple(_ATTEMPT_TYPES) == COLUMNS


def ddl(dialect: int, prefix: str) -> list[str]:
    money = ("TEXT NOT NULL DEFAULT '0'", "numeric NOT NULL DEFAULT 0")[dialect]
    cols = ", ".join(f"{name} {types[dialect]}" for name, types in _ATTEMPT_TYPES.items())
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_runs (run_id TEXT PRIMARY KEY, committed {money}, "
        f"reserved {money}, uncertain {money})",
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_attempts ({cols})",
        f"CREATE INDEX IF NOT EXISTS ledger_attempts_run_time ON {prefix}ledger_attempts (run_id, time)",
        f"CREATE INDEX IF NOT EXISTS ledger_attempts_time ON {prefix}ledger_attempts (time)",
        f"INSERT INTO {prefix}ledger_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') "
        "ON CONFLICT (key) DO NOTHING",
    ]


def check_version(found: object, where: str) -> None:
    if found != SCHEMA_VERSION:
        raise ConfigError(f"ledger {where} has schema version {found!r}; this library reads {SCHEMA_VERSION!r}")


def where_clause(
    run_id: str | None, since: datetime | None, until: datetime | None, mark: str
) -> tuple[str, list[Any]]:
    """Return the WHERE clause and parameters that select rows of one run and/or a time window."""
    clauses, params = [], []
    for clause, value in (("run_id = ", run_id), ("time >= ", since), ("time < ", until)):
        if value is not None:
            clauses.append(clause + mark)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _dec(raw: object) -> Decimal | None:
    return None if raw is None else Decimal(str(raw))


def _wal(conn: sqlite3.Connection, patience_s: float) -> None:
    """Switch the file to WAL mode. Processes creating the file at the same moment can get "database is locked"
    here without SQLite's busy handler being consulted, so this one statement retries for up to ``patience_s``."""
    deadline = time.monotonic() + patience_s
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteStore:
    """The ledger in one SQLite file, safe for several processes (WAL + ``BEGIN IMMEDIATE``)."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            _wal(self._conn, busy_timeout_s)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._lock = threading.Lock()
            self._create()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the SQLite ledger {str(self.path)!r} (TOGETHER_LEDGER_URL): {exc}") \
                from None

    def _create(self) -> None:
        self._insert = (f"INSERT INTO ledger_attempts ({', '.join(COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(COLUMNS))})")
        self._update = (f"UPDATE ledger_attempts SET {', '.join(f'{c} = ?' for c in COLUMNS[1:] if c != 'estimate')} "
                        "WHERE id = ? AND outcome = 'reserved' RETURNING estimate")
        with self._tx() as cur:
            for statement in ddl(0, ""):
                cur.execute(statement)
            check_version(cur.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()[0],
                           str(self.path))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    @staticmethod
    def _params(row: LedgerRow) -> list[Any]:
        values: list[Any] = []
        for name in COLUMNS:
            value = getattr(row, name)
            if isinstance(value, Decimal):
                value = format(value, "f")
            elif isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat(timespec="microseconds")
            values.append(value)
        return values

    @staticmethod
    def _row(raw: Sequence[Any]) -> LedgerRow:
        data = dict(zip(COLUMNS, raw, strict=True))
        data["time"] = datetime.fromisoformat(data["time"])
        data["estimate"], data["cost"] = _dec(data["estimate"]), _dec(data["cost"])
        return LedgerRow(**data)

    def _totals(self, cur: sqlite3.Cursor, run_id: str) -> RunTotals:
        found = cur.execute("SELECT committed, reserved, uncertain FROM ledger_runs WHERE run_id = ?",
                            (run_id,)).fetchone()
        if found is None:
            cur.execute("INSERT INTO ledger_runs (run_id) VALUES (?)", (run_id,))
            return RunTotals(run_id)
        return RunTotals(run_id, Decimal(found[0]), Decimal(found[1]), Decimal(found[2]))

    @staticmethod
    def _save(cur: sqlite3.Cursor, t: RunTotals) -> None:
        cur.execute("UPDATE ledger_runs SET committed = ?, reserved = ?, uncertain = ? WHERE run_id = ?",
                    (format(t.committed, "f"), format(t.reserved, "f"), format(t.uncertain, "f"), t.run_id))

    def reserve(self, row: LedgerRow, limit: Decimal | None) -> ReserveResult:
        amount = row.estimate or ZERO
        with self._tx() as cur:
            t = self._totals(cur, row.run_id)
            if limit is not None and t.used + amount > limit:
                return ReserveResult(False, t)
            t = RunTotals(t.run_id, t.committed, t.reserved + amount, t.uncertain)
            self._save(cur, t)
            cur.execute(self._insert, self._params(row))
            return ReserveResult(True, t)

    def settle(self, row: LedgerRow) -> RunTotals | None:
        with self._tx() as cur:
            params = [v for c, v in zip(COLUMNS, self._params(row), strict=True) if c not in ("id", "estimate")]
            old = cur.execute(self._update, [*params, row.id]).fetchone()
            if old is None:
                return None
            held = _dec(old[0]) or ZERO
            committed, uncertain = settle_deltas(row)
            t = self._totals(cur, row.run_id)
            t = RunTotals(t.run_id, t.committed + committed, t.reserved - held, t.uncertain + uncertain)
            self._save(cur, t)
            return t

    def add(self, row: LedgerRow) -> RunTotals:
        committed, uncertain = settle_deltas(row)
        with self._tx() as cur:
            cur.execute(self._insert, self._params(row))
            t = self._totals(cur, row.run_id)
            if committed or uncertain:
                t = RunTotals(t.run_id, t.committed + committed, t.reserved, t.uncertain + uncertain)
                self._save(cur, t)
            return t

    def totals(self, run_id: str) -> RunTotals:
        with self._lock:
            found = self._conn.execute("SELECT committed, reserved, uncertain FROM ledger_runs WHERE run_id = ?",
                                       (run_id,)).fetchone()
        return RunTotals(run_id, *(Decimal(v) for v in found)) if found else RunTotals(run_id)

    def rows(
        self, *, run_id: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[LedgerRow]:
        where, params = where_clause(run_id, since, until, "?")
        params = [p.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(p, datetime) else p
                  for p in params]
        with self._lock:
            raw = self._conn.execute(f"SELECT {', '.join(COLUMNS)} FROM ledger_attempts{where} ORDER BY time, id",
                                     params).fetchall()
        return [self._row(r) for r in raw]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
