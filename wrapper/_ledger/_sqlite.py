"""The SQLite ledger store (the default; several processes on one machine; ``:memory:`` for the memory store).

The bookkeeping is :class:`wrapper._ledger._sql.SqlStore`; this module opens the file and runs transactions:

* ``BEGIN IMMEDIATE`` takes the database's write lock before the run's totals are read, so the read-check-write
  of a lease cannot interleave with another process's. WAL mode lets readers run during writes;
  ``busy_timeout`` makes writers queue instead of failing.
* ``synchronous=NORMAL``: in WAL mode a process crash loses nothing committed; a power cut may lose the last
  transactions -- a lost lease grant never admitted anything that survived, and a lost flush leaves its charges
  held in their lease (counted as used): conservative, never a hole.
* Decimals are stored as exact decimal text, times as ISO-8601 UTC text (which sorts by time).

The connection is shared by the threads of one store (caller threads taking leases, the writer thread) behind a
lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._records import COLUMNS
from ._sql import SCHEMA_VERSION, Exec, SqlStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

assert (COLUMNS[1], COLUMNS[10], COLUMNS[11]) == ("time", "estimate", "cost")  # row_params' positions


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


class SQLiteStore(SqlStore):
    """The ledger in one SQLite file, safe for several processes (WAL + ``BEGIN IMMEDIATE``)."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        memory = str(path) == ":memory:"
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if not memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if not memory:
                _wal(self._conn, busy_timeout_s)
                self._conn.execute("PRAGMA synchronous = NORMAL")
            with self.tx() as (ex, _):
                self.create(ex, str(self.path))
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the SQLite ledger {str(self.path)!r} (TOGETHER_LEDGER_URL): {exc}") \
                from None

    @contextmanager
    def tx(self, *, durable: bool = True) -> Iterator[tuple[Exec, Exec]]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur.execute, cur.executemany
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def enc(self, value: object) -> object:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value

    def when(self, raw: object) -> datetime:
        return datetime.fromisoformat(str(raw))

    def row_params(self, rows: Iterable[tuple[Any, ...]]) -> list[Sequence[Any]]:
        out: list[Sequence[Any]] = []
        second, prefix = -1, ""
        for values in rows:
            params = list(values)
            stamp = params[1]
            whole = int(stamp)
            if whole != second:  # rows of one second share the date and time: format it once
                second, prefix = whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            params[1] = f"{prefix}{int((stamp - whole) * 1e6):06d}+00:00"
            if params[10] is not None:  # estimate and cost: exact decimal text (str: '1E-7' style below 1e-6)
                params[10] = str(params[10])
            if params[11] is not None:
                params[11] = str(params[11])
            out.append(params)
        return out

    def close(self) -> None:
        with self._lock:
            self._conn.close()
