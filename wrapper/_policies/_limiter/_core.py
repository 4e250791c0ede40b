"""The limiter's core: one admission attempt and the line's bookkeeping; the waiting itself is in ``_async/``.

An attempt checks the hold and the slowed pace (``_feedback``), then puts into the buckets (``_buckets``).

Why it is built this way:
- Tokens go first so the request slot, the tight limit, is taken right before the send; the two puts are not
  atomic, which can only make us slower.
- The line is FIFO per client type (a thread lock for threads, an asyncio lock for tasks): the head waits for its
  slot, the rest wait behind it. A wait that cannot end within ``max_wait`` raises as soon as that is known.
- Async callers on sqlite/redis run the sync bucket call in a worker thread: one instance serves both clients.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping

import attrs

from ..._errors import ConfigError, LocalRateLimitTimeout, RequestValidationError, TogetherError
from ..._observe._events import EventHook, QueueDepthHigh
from ..._observe._log import get_logger
from ._buckets import Buckets
from ._feedback import Feedback

__all__ = ["AsyncSleep", "LimiterCore", "LimiterStats", "SyncSleep"]

AsyncSleep = Callable[[float], Awaitable[None]]
"""How an async caller waits in the line."""
SyncSleep = Callable[[float], None]
"""How a thread waits in the line."""

log = get_logger("limiter")

_SLICE_S = 0.25  # while a precheck is given, waits are cut into slices this long so it runs between them


@attrs.frozen
class LimiterStats:
    """A snapshot of the limiter; times are in its clock (``time.monotonic`` by default)."""

    waits: int  # acquisitions that had to wait in line
    queue_depth: int  # callers waiting now
    max_queue_depth: int
    total_wait_s: float
    received_429: int
    held_until: float | None  # new acquisitions wait until then: Together said nothing is left
    effective_rpm: float | None  # the adaptive rate after 429s; never above the configured rpm


@attrs.define
class _Ticket:
    tokens: int
    start: float
    deadline: float
    tokens_done: bool = False
    reason: str = ""


class LimiterCore:
    """Requests/min and tokens/min for one API key; callers over the limit wait in line (threads and tasks).

    Args:
        rpm: requests per minute, also spread per second (``ceil(rpm/60)``/s); None: no request limit.
        tpm: estimated tokens per minute; None: no token limit.
        max_wait: the longest a caller waits before :class:`LocalRateLimitTimeout`.
        backend: ``memory`` | ``sqlite:///abs/path.db`` (processes on one machine) | ``redis://host:port/db``.
        key: prefix of bucket names (Redis keys ``<key>:requests``/``<key>:tokens``, SQLite tables ``<key>_...``).
        clock, sleep: the monotonic clock and the sleep to wait with (tests inject fakes).
        wall: the wall clock (epoch seconds), to read a reset header sent as a Unix time.
        on_event: receives :class:`QueueDepthHigh` once each time the line grows to ``queue_alert_depth``.
    """

    def __init__(self, *, rpm: int | None, tpm: int | None, max_wait: float, backend: str = "memory",
                 key: str = "together", clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, on_event: EventHook | None = None,
                 queue_alert_depth: int = 50, wall: Callable[[], float] = time.time,
                 asleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if (rpm is not None and rpm < 1) or (tpm is not None and tpm < 1) or max_wait <= 0 or not key:
            raise ConfigError(f"invalid rate limit: rpm={rpm} tpm={tpm} max_wait={max_wait} key={key!r}")
        self._tpm, self._max_wait = tpm, max_wait
        self._clock, self._sleep, self._on_event, self._alert_depth = clock, sleep, on_event, queue_alert_depth
        self._asleep = asleep
        self._buckets = Buckets(rpm=rpm, tpm=tpm, backend=backend, key=key, clock=clock)
        self._offload = self._buckets.blocking
        self._lock, self._line = threading.Lock(), threading.Lock()
        self._feedback = Feedback(rpm, self._lock, clock, wall)
        self._aline: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._depth = self._max_depth = self._waits = 0
        self._total_wait, self._alerted, self._closed = 0.0, False, False

    def _slice(self, t: _Ticket, precheck: Callable[[], None] | None) -> float:
        """How long to wait for the line before looking again (the precheck runs first)."""
        if precheck is not None:
            precheck()
        left = max(0.0, t.deadline - self._clock())
        return min(left, _SLICE_S) if precheck is not None else left

    def _recheck(self, t: _Ticket, precheck: Callable[[], None] | None) -> None:
        """After a slice: the precheck may end the wait; past the deadline it is a timeout."""
        if precheck is not None:
            precheck()
        if self._clock() >= t.deadline:
            raise self._timeout(t, None)

    def _step(self, t: _Ticket, wait: float, precheck: Callable[[], None] | None) -> float:
        wait = self._bounded(t, wait)
        return min(wait, _SLICE_S) if precheck is not None else wait

    def try_acquire(self, tokens: int = 0) -> bool:
        """Take a slot only if one is free now and nobody is in line; never waits.

        A refusal may still have spent ``tokens`` (see the module notes); meant for probes and tests.
        """
        t = self._ticket(tokens)
        return self._depth == 0 and self._attempt(t) == 0.0

    def observe(self, status_code: int, headers: Mapping[str, str], error_type: str | None = None) -> None:
        """Learn from an answer: hold new acquisitions when nothing is left; slow down after a dynamic 429."""
        self._feedback.observe(status_code, headers, error_type)

    def stats(self) -> LimiterStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            now, fb = self._clock(), self._feedback
            held = fb.held_until if fb.held_until is not None and fb.held_until > now else None
            return LimiterStats(waits=self._waits, queue_depth=self._depth, max_queue_depth=self._max_depth,
                                total_wait_s=self._total_wait, received_429=fb.received_429, held_until=held,
                                effective_rpm=fb.effective_rpm(now))

    def close(self) -> None:
        """Release the backend's connections (there is no thread to stop); idempotent. Acquiring then raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._buckets.close()

    # ------------------------------------------------------------------ internals
    def _ticket(self, tokens: int) -> _Ticket:
        if self._closed:
            raise TogetherError("the rate limiter is closed")
        if tokens < 0:
            raise RequestValidationError("tokens", f"must be >= 0, got {tokens}")
        if self._buckets.never_fits(tokens):
            raise LocalRateLimitTimeout(0.0, f"{tokens} estimated tokens can never fit in {self._tpm} tokens/min; "
                                             "raise TOGETHER_RATE_LIMIT_TPM or lower max_tokens")
        now = self._clock()
        return _Ticket(tokens=tokens if self._tpm is not None else 0, start=now, deadline=now + self._max_wait)

    def _attempt(self, t: _Ticket) -> float:
        """One try under the lock: 0.0 when admitted, else the seconds until a try can succeed."""
        with self._lock:
            now = self._clock()
            self._buckets.maybe_leak(now)
            wait, why = self._feedback.pause(now)
            if wait > 0.0:
                t.reason = why
                return wait
            if t.tokens and not t.tokens_done:
                if wait := self._buckets.pay_tokens(t.tokens):
                    t.reason = f"{self._tpm} tokens/min"
                    return wait
                t.tokens_done = True
            if wait := self._buckets.take_request():
                t.reason = self._buckets.request_limit
                return wait
            self._feedback.admitted(now)
            return 0.0

    async def _attempt_async(self, t: _Ticket) -> float:
        return await asyncio.to_thread(self._attempt, t) if self._offload else self._attempt(t)

    def _bounded(self, t: _Ticket, wait: float) -> float:
        if self._clock() + wait > t.deadline:
            raise self._timeout(t, wait)
        return wait

    def _timeout(self, t: _Ticket, wait: float | None) -> LocalRateLimitTimeout:
        waited, why = self._clock() - t.start, t.reason or "the callers ahead in line"
        log.bind(waited_s=round(waited, 3), reason=why).warning("rate-limit wait over max_wait")
        more = "" if wait is None else f"; next slot in {wait:.1f}s"
        return LocalRateLimitTimeout(waited, f"{why}{more}; max wait {self._max_wait:g}s")

    def _take_line(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the head of the (thread) line."""
        return self._line.acquire(timeout=seconds)

    def _release_line(self) -> None:
        self._line.release()

    async def _take_line_async(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the head of the (task) line of the running loop."""
        try:
            await asyncio.wait_for(self._async_line().acquire(), seconds)
        except (TimeoutError, asyncio.TimeoutError):  # noqa: UP041 - distinct classes on Python 3.10
            return False
        return True

    def _release_line_async(self) -> None:
        self._async_line().release()

    def _async_line(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._aline is None or self._aline[0] is not loop:
                self._aline = (loop, asyncio.Lock())
            return self._aline[1]

    def _enter_line(self) -> None:
        with self._lock:
            self._depth += 1
            self._waits += 1
            self._max_depth = max(self._max_depth, self._depth)
            fire = self._depth >= self._alert_depth and not self._alerted
            self._alerted = self._alerted or fire
            depth = self._depth
        if fire and self._on_event is not None:
            try:
                self._on_event(QueueDepthHigh(at=time.time(), depth=depth, threshold=self._alert_depth))
            except Exception as exc:  # the hook must not break acquisition
                log.bind(error=type(exc).__name__).error("on_event hook raised")

    def _leave_line(self, t: _Ticket) -> None:
        with self._lock:
            self._depth -= 1
            self._total_wait += self._clock() - t.start
            self._alerted = self._alerted and self._depth >= self._alert_depth
