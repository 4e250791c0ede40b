"""The PostgreSQL ledger store (psycopg 3): one budget shared by every process on every machine of a fleet.

Atomicity: each method is one statement in its own transaction (autocommit), one round trip.

* reserve: a conditional ``UPDATE`` of the run's budget row -- ``reserved = reserved + amount`` only where
  ``committed + reserved + uncertain + amount <= limit``. The UPDATE takes that row's lock (as ``SELECT ... FOR
  UPDATE`` would) and, when it had to wait for another reserver, re-checks the condition on the row as that one
  left it, so two machines can never both take the last dollar. A data-modifying CTE inserts the ``reserved``
  attempt row in the same statement, so the hold and its record exist together or not at all.
* settle: updates the reserved row (only while it is still ``reserved``) and moves its amount in the budget row,
  in one statement; lock order is attempt row, then budget row, and reserve never locks an existing attempt row,
  so the two cannot deadlock.

Durability: reserve and new uncertain charges commit synchronously (a reservation lost to a power cut would be
a call with no record). Settles and free error rows go through a second connection with
``synchronous_commit = off``: still atomic and immediately visible, but a power cut may lose the last fraction of
a second of them -- which leaves those rows ``reserved``, counted as spent: conservative, never a hole. (Each
synchronous commit waits for the server's WAL flush; that, not the SQL, is most of a reservation's time.)

Amounts are ``numeric`` (exact). ``schema`` names the PostgreSQL schema holding the tables (created if missing;
tests give each run its own); without it, the connection's ``search_path`` decides. DDL runs under an advisory
lock so processes starting together do not race on ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._sqlite import check_version, ddl, where_clause
from ._store import COLUMNS, LedgerRow, ReserveResult, RunTotals, settle_deltas

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_CASTS = {"time": "timestamptz", "attempt": "integer", "prompt_tokens": "integer", "completion_tokens": "integer",
          "estimate": "numeric", "cost": "numeric", "latency_ms": "double precision", "status": "integer"}
_DDL_LOCK = 0x7467_6C65_6467  # advisory lock key for schema creation ("tgledg")


def _values() -> str:
    return ", ".join(f"%({c})s::{_CASTS.get(c, 'text')}" for c in COLUMNS)


class PostgresStore:
    """The ledger in PostgreSQL; thread-safe (two connections, each behind a lock; a broken one is replaced)."""

    def __init__(self, conninfo: str, *, schema: str | None = None, connect_timeout: int = 10) -> None:
        try:
            import psycopg
            from psycopg import sql
        except ImportError:
            raise ConfigError(
                "TOGETHER_LEDGER_URL is postgresql:// but psycopg is not installed: pip install "
                "'together-wrapper[postgres]'"
            ) from None
        self._connect_args: dict[str, Any] = {"conninfo": conninfo, "autocommit": True,
                                              "connect_timeout": connect_timeout}
        try:
            self._conn, self._fast = self._connect(fast=False), self._connect(fast=True)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to the PostgreSQL ledger (TOGETHER_LEDGER_URL): {exc}") from None
        self._lock, self._fast_lock = threading.Lock(), threading.Lock()
        self.schema = schema
        prefix = (sql.Identifier(schema).as_string(self._conn) + ".") if schema else ""
        self._runs, self._attempts = f"{prefix}ledger_runs", f"{prefix}ledger_attempts"
        self._known_runs: set[str] = set()
        self._closed = False
        self._create(prefix)

    def _create(self, prefix: str) -> None:
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            if self.schema:
                self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix[:-1]}")
            for statement in ddl(1, prefix):
                self._conn.execute(statement)
            found = self._conn.execute(f"SELECT value FROM {prefix}ledger_meta WHERE key = 'schema_version'")
            check_version(found.fetchone()[0], f"schema {self.schema or 'search_path'}")  # type: ignore[index]

    def _connect(self, *, fast: bool) -> psycopg.Connection[Any]:
        import psycopg

        conn = psycopg.connect(**self._connect_args)
        if fast:
            conn.execute("SET synchronous_commit TO OFF")
        return conn

    def _live(self, *, fast: bool) -> psycopg.Connection[Any]:
        """The connection to use (caller holds its lock); one that broke (server restart) is replaced."""
        conn = self._fast if fast else self._conn
        if conn.broken or (conn.closed and not self._closed):
            conn = self._connect(fast=fast)
            if fast:
                self._fast = conn
            else:
                self._conn = conn
        return conn

    def _run_row(self, conn: psycopg.Connection[Any], run_id: str) -> None:
        if run_id not in self._known_runs:
            conn.execute(f"INSERT INTO {self._runs} (run_id) VALUES (%s) ON CONFLICT DO NOTHING", (run_id,))
            self._known_runs.add(run_id)

    @staticmethod
    def _totals(run_id: str, found: Any) -> RunTotals:
        return RunTotals(run_id, *found) if found else RunTotals(run_id)

    def reserve(self, row: LedgerRow, limit: Decimal | None) -> ReserveResult:
        query = (
            f"WITH r AS (UPDATE {self._runs} SET reserved = reserved + %(amount)s::numeric "
            f"WHERE run_id = %(run_id)s AND (%(limit)s::numeric IS NULL "
            f"OR committed + reserved + uncertain + %(amount)s::numeric <= %(limit)s::numeric) "
            f"RETURNING committed, reserved, uncertain), "
            f"ins AS (INSERT INTO {self._attempts} ({', '.join(COLUMNS)}) SELECT {_values()} FROM r) "
            f"SELECT committed, reserved, uncertain FROM r"
        )
        params = {**self._params(row), "amount": row.estimate or Decimal(0), "limit": limit}
        with self._lock:
            conn = self._live(fast=False)
            self._run_row(conn, row.run_id)
            found = conn.execute(query, params).fetchone()
            if found is not None:
                return ReserveResult(True, self._totals(row.run_id, found))
            now = conn.execute(f"SELECT committed, reserved, uncertain FROM {self._runs} WHERE run_id = %s",
                                     (row.run_id,)).fetchone()
        return ReserveResult(False, self._totals(row.run_id, now))

    def settle(self, row: LedgerRow) -> RunTotals | None:
        sets = ", ".join(f"{c} = %({c})s::{_CASTS.get(c, 'text')}" for c in COLUMNS if c not in ("id", "estimate"))
        query = (
            f"WITH a AS (UPDATE {self._attempts} SET {sets} WHERE id = %(id)s AND outcome = 'reserved' "
            f"RETURNING run_id, COALESCE(estimate, 0) AS held) "
            f"UPDATE {self._runs} AS r SET reserved = r.reserved - a.held, "
            f"committed = r.committed + %(d_committed)s::numeric, uncertain = r.uncertain + %(d_uncertain)s::numeric "
            f"FROM a WHERE r.run_id = a.run_id RETURNING r.committed, r.reserved, r.uncertain"
        )
        committed, uncertain = settle_deltas(row)
        params = {**self._params(row), "d_committed": committed, "d_uncertain": uncertain}
        with self._fast_lock:  # losing this on a power cut leaves the row reserved: counted, never a hole
            found = self._live(fast=True).execute(query, params).fetchone()
        return None if found is None else self._totals(row.run_id, found)

    def add(self, row: LedgerRow) -> RunTotals:
        query = (
            f"WITH ins AS (INSERT INTO {self._attempts} ({', '.join(COLUMNS)}) VALUES ({_values()})) "
            f"UPDATE {self._runs} SET committed = committed + %(d_committed)s::numeric, "
            f"uncertain = uncertain + %(d_uncertain)s::numeric WHERE run_id = %(run_id)s "
            f"RETURNING committed, reserved, uncertain"
        )
        committed, uncertain = settle_deltas(row)
        params = {**self._params(row), "d_committed": committed, "d_uncertain": uncertain}
        durable = bool(committed or uncertain)  # a new charge must survive a power cut; a free error row need not
        with self._lock if durable else self._fast_lock:
            conn = self._live(fast=not durable)
            self._run_row(conn, row.run_id)
            found = conn.execute(query, params).fetchone()
        return self._totals(row.run_id, found)

    def totals(self, run_id: str) -> RunTotals:
        with self._lock:
            found = self._live(fast=False).execute(
                f"SELECT committed, reserved, uncertain FROM {self._runs} WHERE run_id = %s", (run_id,)).fetchone()
        return self._totals(run_id, found)

    def rows(
        self, *, run_id: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[LedgerRow]:
        where, params = where_clause(run_id, since, until, "%s")
        with self._lock:
            query = f"SELECT {', '.join(COLUMNS)} FROM {self._attempts}{where} ORDER BY time, id"
            raw = self._live(fast=False).execute(query, params).fetchall()
        rows = []
        for values in raw:
            data = dict(zip(COLUMNS, values, strict=True))
            data["time"] = data["time"].astimezone(UTC)
            rows.append(LedgerRow(**data))
        return rows

    @staticmethod
    def _params(row: LedgerRow) -> dict[str, Any]:
        return {c: getattr(row, c) for c in COLUMNS}

    def close(self) -> None:
        with self._lock, self._fast_lock:
            self._closed = True
            self._conn.close()
            self._fast.close()
