"""Where the rate-limit buckets live: pyrate-limiter's memory, SQLite and Redis buckets, made safe to share.

Part of the limiter package, the only place that imports pyrate_limiter. SQLite gets a cross-process write lock
around count-then-insert; Redis gets server-clock stamps under a short lock (see :func:`open_backend`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import cast

import attrs
from pyrate_limiter import AbstractBucket, InMemoryBucket, Rate, RedisBucket, SQLiteBucket

from ..._errors import ConfigError

__all__ = ["Backend", "SQLiteWriteLock", "open_backend", "safe_url"]


class SQLiteWriteLock:
    """A re-entrant lock that also holds SQLite's write lock (``BEGIN IMMEDIATE``) while held.

    ``SQLiteBucket.put`` counts, then inserts; under this lock the pair is atomic across processes as well, without
    the optional ``filelock`` package. SQLite's busy timeout (5 s) bounds the wait for another process.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn, self._rlock, self._depth = conn, threading.RLock(), 0

    def __enter__(self) -> None:
        self._rlock.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._depth -= 1
                self._rlock.release()
                raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self._depth == 1 and self._conn.in_transaction:
                self._conn.rollback() if kind else self._conn.commit()
        finally:
            self._depth -= 1
            self._rlock.release()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def safe_url(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//", url)  # never show credentials


@attrs.frozen
class Backend:
    buckets: dict[str, AbstractBucket]
    stamp: Callable[[], int]  # the ms clock items are stamped with
    guard: Callable[[str], AbstractContextManager[object]]  # held around the stamp and put of bucket <name>
    close: Callable[[], None]


def open_backend(backend: str, key: str, specs: dict[str, list[Rate]], clock: Callable[[], float]) -> Backend:
    """One pyrate bucket per spec on ``backend``."""
    if backend == "memory":
        memory = {n: InMemoryBucket(r) for n, r in specs.items()}  # stamped with our clock: tests can move time
        return Backend(dict(memory), lambda: int(clock() * 1000), lambda _: nullcontext(), _noop)
    if backend.startswith("sqlite://"):
        path, table = os.path.expanduser(backend[len("sqlite://"):]), re.sub(r"\W", "_", key)
        try:
            sq = {n: SQLiteBucket.init_from_file(r, table=f"{table}_{n}", db_path=path) for n, r in specs.items()}
        except sqlite3.Error as exc:
            raise ConfigError(f"TOGETHER_RATE_LIMIT_BACKEND {backend!r}: cannot open the database: {exc}") from exc
        for b in sq.values():
            b.lock = cast(threading.RLock, SQLiteWriteLock(b.conn))  # `lock` is a public attribute of the bucket
            b.conn.execute("PRAGMA journal_mode=WAL").close()  # short write locks: no fsync per admitted request
            b.conn.execute("PRAGMA synchronous=NORMAL").close()
        # Stamp inside the write lock: an item stamped before waiting for it would leave the window early.
        return Backend(dict(sq), _wall_ms, lambda n: cast("AbstractContextManager[object]", sq[n].lock),
                        lambda: _close_all([b.conn for b in sq.values()]))
    if backend.startswith(("redis://", "rediss://", "unix://")):
        return _open_redis(backend, key, specs)
    raise ConfigError(f"TOGETHER_RATE_LIMIT_BACKEND must be memory, sqlite:///path or redis://host:port/db, "
                      f"got {safe_url(backend)!r}")


def _open_redis(url: str, key: str, specs: dict[str, list[Rate]]) -> Backend:
    """Redis buckets, stamped with the Redis server's clock under a short Redis lock.

    pyrate's script counts ``[now - interval, now]``: an item stamped earlier but evaluated after another process's
    later-stamped item would not see it, and a burst from several processes overshoots (measured: 12 in a 10/s
    window). Stamping inside a lock keeps stamp order equal to evaluation order; the server clock removes skew
    between machines. Costs about four round trips per put.
    """
    try:
        import redis  # optional extra: imported only when asked for
    except ImportError as exc:
        raise ConfigError("a redis:// rate-limit backend needs: pip install 'together-wrapper[redis]'") from exc
    client = redis.Redis.from_url(url)
    try:
        rb = {n: RedisBucket.init(r, client, f"{key}:{n}") for n, r in specs.items()}
    except redis.RedisError as exc:
        client.close()
        raise ConfigError(f"rate-limit backend {safe_url(url)} is unreachable: {exc}") from exc

    def server_ms() -> int:
        sec, usec = client.time()
        return sec * 1000 + usec // 1000

    def guard(_: str) -> AbstractContextManager[object]:
        lock = client.lock(f"{key}:lock", timeout=5.0, sleep=0.001, blocking_timeout=5.0)
        return cast("AbstractContextManager[object]", lock)

    return Backend(cast("dict[str, AbstractBucket]", rb), server_ms, guard, client.close)


def _noop() -> None:
    return None


def _close_all(conns: list[sqlite3.Connection]) -> None:
    for conn in conns:
        conn.close()
