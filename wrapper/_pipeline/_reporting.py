"""The runtime's reports: events to the user's hook, and each attempt's metrics, log record and limiter hints.

:class:`Reporting` is the base class of :class:`~._runtime.Runtime`: the stack calls these methods around every
attempt (on the call path, so each is cheap and in memory; the ledger writes its attempt rows behind). It also
keeps the rate-limit storm alert. The state these methods use (metrics, limiter, ledger, the storm's window) is
set by ``Runtime.__init__``.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from .._errors import APIError, APIStatusError, CreditLimitError
from .._ledger import Ledger
from .._observe._events import (
    BreakerStateChanged,
    CallFailed,
    Event,
    EventHook,
    ModelFallback,
    RateLimited,
    RateLimitStorm,
    RetryScheduled,
)
from .._observe._log import get_logger, log_attempt, log_event
from .._observe._metrics import ClientMetrics
from .._policies._limiter import RateLimiter
from .._policies._retry import describe
from .._settings import Settings
from ._call import is_uncertain, usage_tokens
from ._fallback import ChainState, Reason

if TYPE_CHECKING:
    from ._call import Call

__all__ = ["Reporting"]

log = get_logger("client")


class Reporting:
    """Events, and each attempt's outcome reported to metrics, the log, the limiter and the ledger's attempt rows."""

    # Set by Runtime.__init__ (and shared by Runtime.derive's copies).
    settings: Settings
    clock: Callable[[], float]
    wall: Callable[[], float]
    metrics: ClientMetrics
    chain: ChainState
    limiter: RateLimiter | None
    ledger: Ledger
    _hook: EventHook | None
    _429s: deque[tuple[float, str]]
    _storm_at: float | None
    _storm_lock: threading.Lock

    # ---------------------------------------------------------------- events
    def emit(self, event: Event) -> None:
        """Deliver an event to the user's hook (or log it at WARNING); a failing hook is logged, not raised."""
        if self._hook is None:
            log_event(event)
            return
        try:
            self._hook(event)
        except Exception as exc:
            log.opt(exception=exc).error("on_event hook raised {}", type(exc).__name__)

    def _breaker_moved(self, model: str, old: str, new: str, failures: int) -> None:
        self.metrics.observe_breaker(model, new)
        log.bind(model=model, old=old, new=new, failures=failures).warning("breaker {} -> {}", old, new)
        self.chain.breaker_moved(model, new, self.clock())
        self.emit(BreakerStateChanged(at=self.wall(), model=model, old=old, new=new, failures=failures))

    def fell_back(self, model: str, fallback: str, reason: Reason, request_id: str | None = None) -> None:
        """The fallback chain moved from ``model`` to ``fallback``: one log line and a ModelFallback event."""
        log.bind(model=model, fallback=fallback, reason=reason, request_id=request_id).warning(
            "model {} -> fallback {} ({})", model, fallback, reason)
        self.emit(ModelFallback(at=self.wall(), model=model, fallback=fallback, reason=reason, request_id=request_id))

    # ---------------------------------------------------------------- attempts (in memory)
    def waited(self, seconds: float) -> None:
        """The limiter made the attempt wait."""
        if seconds > 0:
            self.metrics.observe_wait(seconds)

    def attempt_ok(self, call: Call, headers: Mapping[str, str], usage: object) -> None:
        """An attempt succeeded: feed the limiter's hints, one metrics sample, one log record."""
        call.usage = usage
        if self.limiter is not None:
            self.limiter.observe(call.status or 200, headers, None)
        if call.estimate is None or call.stream:  # a stream is sampled when it ends (stream_ended)
            return
        self._sample_ok(call, usage)

    def _sample_ok(self, call: Call, usage: object) -> Decimal | None:
        prompt, completion = usage_tokens(usage)
        latency = self.clock() - call.started
        price = self.ledger.price_of(call.estimate.model) if call.estimate is not None else None
        cost = price.cost(prompt, completion) if price is not None and prompt is not None \
            and completion is not None else None
        self.metrics.observe_attempt(call.key, "ok", latency, prompt, completion, cost)
        log_attempt(log, request_id=call.request_id, model=call.key, status=call.status, latency_s=latency,
                    attempt=call.attempts, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost,
                    outcome="ok")
        return cost

    def attempt_failed(self, call: Call, error: APIError, headers: Mapping[str, str] | None = None) -> bool:
        """An attempt failed: metrics, log, the limiter's hints, a RateLimited event, the ledger's attempt row.

        Returns:
            Whether the attempt may have been billed (uncertain): the caller then charges it (I/O may follow).
        """
        error.attempts = call.attempts
        error.request_id = error.request_id or call.request_id
        status = error.status_code if isinstance(error, APIStatusError) else None
        if self.limiter is not None and headers is not None:
            self.limiter.observe(status or 0, headers, error.type if isinstance(error, APIStatusError) else None)
        if status == 429 and not isinstance(error, CreditLimitError):  # out of credit is billing, not our rate
            self.metrics.observe_429()
            assert isinstance(error, APIStatusError)
            self.emit(RateLimited(at=self.wall(), model=call.key, type=error.type, request_id=error.request_id,
                                  retry_after=error.retry_after))
            self._storm(error.type)
        uncertain = is_uncertain(error)
        latency = self.clock() - call.started
        outcome = "uncertain" if uncertain else "error"
        self.metrics.observe_attempt(call.key, outcome, latency, None, None, None)
        log_attempt(log, request_id=call.request_id, model=call.key, status=status, latency_s=latency,
                    attempt=call.attempts, prompt_tokens=None, completion_tokens=None, cost_usd=None,
                    outcome=outcome)
        # A definite failure's ledger row is written when a retry is scheduled (retry_scheduled); the last one is
        # the call's own closing row (call_failed), so no attempt is recorded twice.
        return uncertain and call.reservation is not None

    def retry_scheduled(self, call: Call, error: BaseException, wait: float) -> None:
        """backoff's ``on_backoff``: record the failed attempt in the ledger (a definite failure: no charge; an
        uncertain one was charged already), then log, count and announce the retry."""
        if call.reservation is not None and not is_uncertain(error):
            status = error.status_code if isinstance(error, APIStatusError) else None
            error_type = error.type if isinstance(error, APIStatusError) and error.type else type(error).__name__
            self.ledger.record_attempt(call.reservation, request_id=getattr(error, "request_id", None),
                                       latency_s=self.clock() - call.started, attempt=call.attempts, status=status,
                                       error_type=error_type)
        reason = describe(error)
        self.metrics.observe_retry(call.key, reason)
        log.bind(model=call.key, attempt=call.attempts, wait_s=round(wait, 3), reason=reason,
                 request_id=call.request_id).info("retry scheduled in {:.2f}s ({})", wait, reason)
        self.emit(RetryScheduled(at=self.wall(), model=call.key, attempt=call.attempts, wait=wait, reason=reason,
                                 request_id=call.request_id))

    def gave_up(self, call: Call, error: BaseException) -> None:
        """backoff's ``on_giveup``: the call fails for good with ``error`` after ``call.attempts`` attempts."""
        reason = describe(error)
        log.bind(model=call.key, attempts=call.attempts, reason=reason,
                 request_id=call.request_id).warning("call failed after {} attempt(s): {}", call.attempts, reason)
        status = error.status_code if isinstance(error, APIStatusError) else None
        kind = error.type if isinstance(error, APIStatusError) else None
        self.emit(CallFailed(at=self.wall(), model=call.key, attempts=call.attempts, error=type(error).__name__,
                             status=status, type=kind, reason=reason, request_id=call.request_id))

    def _storm(self, error_type: str | None) -> None:
        """Count a 429; at ``TOGETHER_STORM_429S`` within ``TOGETHER_STORM_WINDOW`` emit one RateLimitStorm."""
        now, window = self.clock(), self.settings.storm_window
        with self._storm_lock:
            seen = self._429s
            seen.append((now, error_type or "none"))
            while seen and now - seen[0][0] > window:
                seen.popleft()
            fire = len(seen) >= self.settings.storm_429s and (self._storm_at is None or now - self._storm_at > window)
            if fire:
                self._storm_at = now
                types = dict(Counter(kind for _, kind in seen))
                count = len(seen)
        if fire:
            log.bind(count=count, window_s=window).warning("rate-limit storm: {} 429s in {:g}s", count, window)
            self.emit(RateLimitStorm(at=self.wall(), count=count, window=window, types=types))
