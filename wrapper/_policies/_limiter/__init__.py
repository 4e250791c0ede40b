"""Our own rate limit: requests/min and tokens/min on pyrate-limiter buckets; callers over it wait in line.

This package is the only place that imports pyrate_limiter: ``_buckets`` puts into the buckets, ``_backends``
opens them where they live.

Why it is built this way (pyrate-limiter 4.5.1):
- How the buckets are used (``put_decision``, no leak thread, two buckets, token units) is explained in
  ``_buckets``. Tokens go first so the request slot, the tight limit, is taken right before the send; the two
  puts are not atomic, which can only make us slower.
- The line is FIFO per client type (a thread lock for threads, an asyncio lock for tasks): the head waits for its
  slot, the rest wait behind it. A wait that cannot end within ``max_wait`` raises as soon as that is known.
- Async callers on sqlite/redis run the sync bucket call in a worker thread: one instance serves both clients.
- SQLite stamps items with this machine's wall clock; Redis with the Redis server's clock, under a Redis lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..._observe._events import EventHook
from ..._settings import Settings
from ._async._line import AsyncLine
from ._backends import SQLiteWriteLock as _SQLiteWriteLock
from ._core import LimiterStats
from ._sync._line import SyncLine

__all__ = ["LimiterStats", "RateLimiter", "_SQLiteWriteLock"]


class RateLimiter(SyncLine, AsyncLine):
    """Requests/min and tokens/min for one API key; callers over the limit wait in line (threads and tasks).

    ``acquire`` (threads) and ``acquire_async`` (tasks) are one implementation: the async one is the source and the
    sync one is generated from it (``scripts/generate_sync.py``). The constructor's arguments are
    :class:`~._core.LimiterCore`'s.
    """

    @classmethod
    def from_settings(cls, s: Settings, *, clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep, on_event: EventHook | None = None,
                      asleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> RateLimiter:
        """The limiter ``TOGETHER_RATE_LIMIT_*`` and ``TOGETHER_QUEUE_ALERT_DEPTH`` describe."""
        return cls(rpm=s.rate_limit_rpm, tpm=s.rate_limit_tpm, max_wait=s.rate_limit_max_wait,
                   backend=s.rate_limit_backend, key=s.rate_limit_key, clock=clock, sleep=sleep, on_event=on_event,
                   queue_alert_depth=s.queue_alert_depth, asleep=asleep)

