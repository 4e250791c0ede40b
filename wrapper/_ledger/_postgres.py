"""The PostgreSQL ledger store (psycopg 3): one budget shared by every process on every machine of a fleet.

The bookkeeping is :class:`wrapper._ledger._sql.SqlStore`; this module connects and runs transactions.

* Atomicity: each Store method is one transaction that first locks the run's budget row
  (``SELECT ... FOR UPDATE``): two machines taking leases at once queue on that row, and the second re-reads the
  totals the first left, so they can never both take the last dollar. Lease rows are locked after the run row,
  in every transaction, so they cannot deadlock.
* Durability: lease transactions (grants, returns, reconciliations) commit synchronously. The writer's flushes
  of history go through a second connection with ``synchronous_commit = off``: still atomic and immediately
  visible, but a power cut may lose the last fraction of a second of them -- which leaves those charges held in
  their lease (counted as used): conservative, never a hole.
* Amounts are ``numeric`` (exact), times ``timestamptz``. ``schema`` names the PostgreSQL schema holding the
  tables (created if missing; tests give each run its own); without it, the connection's ``search_path``
  decides. DDL and the v1 -> v2 migration run under an advisory lock, so processes starting together do not race.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._records import COLUMNS
from ._sql import Exec, SqlStore

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_DDL_LOCK = 0x7467_6C65_6467  # advisory lock key for schema creation ("tgledg")


class PostgresStore(SqlStore):
    """The ledger in PostgreSQL; thread-safe (two connections, each behind a lock; a broken one is replaced)."""

    lock_suffix = " FOR UPDATE"

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
        self._closed = False
        try:
            self._conn, self._fast = self._connect(fast=False), self._connect(fast=True)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to the PostgreSQL ledger (TOGETHER_LEDGER_URL): {exc}") from None
        self._lock, self._fast_lock = threading.Lock(), threading.Lock()
        self._local = threading.local()  # the connection of the transaction this thread is in
        self.schema = schema
        self.prefix = (sql.Identifier(schema).as_string(self._conn) + ".") if schema else ""
        with self.tx() as (ex, _):
            ex("SELECT pg_advisory_xact_lock(?)", (_DDL_LOCK,))
            if schema:
                ex(f"CREATE SCHEMA IF NOT EXISTS {self.prefix[:-1]}", ())
            self.create(ex, f"schema {schema or 'search_path'}")

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

    @contextmanager
    def tx(self, *, durable: bool = True) -> Iterator[tuple[Exec, Exec]]:
        with self._lock if durable else self._fast_lock:
            conn = self._live(fast=not durable)

            def ex(query: str, params: Sequence[Any]) -> Any:
                return conn.execute(query.replace("?", "%s"), params)

            def exm(query: str, params: Sequence[Any]) -> Any:
                with conn.cursor() as cur:
                    cur.executemany(query.replace("?", "%s"), params)

            with conn.transaction():
                self._local.conn = conn
                try:
                    yield ex, exm
                finally:
                    self._local.conn = None

    def _insert_rows(self, exm: Exec, rows: Iterable[tuple[Any, ...]]) -> None:
        """History rows by ``COPY``: a batch of a thousand rows costs a few µs each, not one round of the
        extended protocol each (``executemany``)."""
        params = self.row_params(rows)
        if not params:
            return
        conn: psycopg.Connection[Any] = self._local.conn
        with conn.cursor() as cur, cur.copy(f"COPY {self.prefix}ledger_attempts ({', '.join(COLUMNS)}) "
                                            "FROM STDIN") as copy:
            for values in params:
                copy.write_row(values)

    def when(self, raw: object) -> datetime:
        return raw.astimezone(UTC) if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))

    def close(self) -> None:
        with self._lock, self._fast_lock:
            self._closed = True
            self._conn.close()
            self._fast.close()
