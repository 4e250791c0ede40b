"""One circuit breaker per model, windowed and thread-safe, on top of circuitbreaker; the only circuitbreaker import.

circuitbreaker 2.1.3 counts consecutive failures with no window, has no lock or callbacks,
reads ``time.monotonic`` itself and lets every caller through while half-open.
:class:`ModelBreaker` subclasses its ``CircuitBreaker`` (``opened``, ``closed``, ``open_until``,
``last_failure`` and ``with breaker:`` keep working) and replaces the state machine:

* **closed** -> **open** when ``failures`` *counted* failures (:func:`is_counted`) fall within
  ``window`` seconds, as the resilience issue specifies ("5 counted failures within 60 s"),
  whatever succeeded in between: Together failing one call in twelve at 60 RPM is an
  outage worth pausing for. Jobs at high throughput that should ride out a trickle of 5xx
  raise ``TOGETHER_BREAKER_FAILURES``. Successes and outcomes that are not counted (a 4xx,
  a 429, a cancellation) leave the window as it is.
* **open** -> **half_open** once ``recovery`` seconds have passed, lazily, when the state is
  read or :meth:`ModelBreaker.guard` is called. Until then ``guard`` raises
  :class:`CircuitOpenError` with the seconds left, before any I/O.
* **half_open**: exactly one caller becomes the probe; the others get ``CircuitOpenError``
  (``retry_in=0``: the verdict is due any moment) until the probe settles. A probe that never
  reports back (a bug, a killed thread) is replaced after another ``recovery`` seconds, so a
  model can never be locked out for good.
* **half_open** -> **closed** on the probe's success; -> **open** (a new recovery period) on its
  counted failure. A probe ending in an outcome that is not counted frees the slot only.

An outcome reported while **open** (from a request begun before it opened) changes nothing.
Each transition is reported once to ``on_transition(model, old, new, failures)``, in order,
outside the state lock; a callback that raises is logged and ignored.

A client's breakers, one per model, are kept in a :class:`~._breaker_board.BreakerBoard`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal, NoReturn

from circuitbreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreaker

from .._errors import APIConnectionError, APIStatusError, CircuitOpenError, ConfigError, ServerError
from .._observe._log import get_logger

__all__ = ["ModelBreaker", "OnTransition", "is_counted"]

OnTransition = Callable[[str, str, str, int], None]
"""``on_transition(model, old_state, new_state, counted_failures_in_window)``."""

_log = get_logger("breaker")


def is_counted(error: BaseException) -> bool:
    """Whether an outcome is evidence that the model's backend is failing.

    Counted: :class:`ServerError` (any 5xx, 504 included), :class:`APIConnectionError` and its
    :class:`APITimeoutError`. Not counted: every other :class:`APIStatusError` (4xx, 429 included:
    that is *our* rate, not their health), :class:`APIResponseValidationError` (Together answered;
    a truncated body is more likely the network or our parser), stream errors, our own local
    errors (validation, budget, open circuit, local rate-limit timeout) and cancellation.
    """
    if isinstance(error, APIStatusError):
        return isinstance(error, ServerError) or error.status_code >= 500
    return isinstance(error, APIConnectionError) and not error.local  # a request we never sent says nothing


class ModelBreaker(CircuitBreaker):  # type: ignore[misc]  # circuitbreaker ships no type information
    """The breaker of one model; safe to share between threads and event loops.

    Use :meth:`guard` before each attempt and exactly one of :meth:`record_success`,
    :meth:`record_failure` or :meth:`release` after it; or ``with breaker:`` which does both.
    """

    def __init__(
        self,
        model: str,
        *,
        failures: int = 5,
        window: float = 60.0,
        recovery: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_transition: OnTransition | None = None,
    ) -> None:
        if failures < 1 or window <= 0 or recovery <= 0:  # the base class would silently turn 0 into 5 / 30
            raise ConfigError(f"breaker needs failures >= 1, window > 0, recovery > 0: {failures} {window} {recovery}")
        super().__init__(
            failure_threshold=failures,
            recovery_timeout=recovery,
            expected_exception=lambda _type, exc: is_counted(exc),
            name=model,
            fallback_function=self._refuse,
        )
        # The base class's fields, re-declared with types; its own methods keep reading them.
        self._state: str = STATE_CLOSED
        self._failure_threshold: int = failures
        self._recovery_timeout: float = recovery
        self._failure_count: int = 0
        self._last_failure: BaseException | None = None
        self._opened: float = clock()
        self.model = model
        self.window = window
        self._clock = clock
        self._on_transition = on_transition
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self._emit_lock = threading.RLock()  # serialises callbacks so they arrive in transition order
        self._pending: list[tuple[str, str, int]] = []
        self._probe_since: float | None = None  # clock reading when the current probe was let through

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (open turns half_open once recovery has passed)."""
        with self._lock:
            state = self._advance(self._clock())
        self._flush()
        return state

    @property
    def open_remaining(self) -> float:
        """Seconds until a probe is allowed (0 unless open)."""
        with self._lock:
            now = self._clock()
            remaining = self._remaining(now) if self._advance(now) == STATE_OPEN else 0.0
        self._flush()
        return remaining

    @property
    def failure_count(self) -> int:
        """Counted failures within the window now."""
        with self._lock:
            self._prune(self._clock())
            return len(self._times)

    def guard(self) -> None:
        """Let an attempt through, or raise before any I/O.

        Raises:
            CircuitOpenError: the breaker is open, or half-open with a probe already in flight.
        """
        with self._lock:
            now = self._clock()
            state = self._advance(now)
            refusal: CircuitOpenError | None = None
            if state == STATE_OPEN:
                refusal = CircuitOpenError(self.model, self._remaining(now))
            elif state == STATE_HALF_OPEN:
                probe_lost = self._probe_since is not None and now - self._probe_since >= self._recovery_timeout
                if self._probe_since is None or probe_lost:
                    self._probe_since = now  # this caller is the probe
                else:
                    refusal = CircuitOpenError(self.model, 0.0)
        self._flush()
        if refusal is not None:
            raise refusal

    def record_success(self) -> None:
        """The attempt succeeded: a probe closes the breaker; in closed state the window is left as it is."""
        with self._lock:
            if self._advance(self._clock()) == STATE_HALF_OPEN:
                self._move(STATE_CLOSED)
        self._flush()

    def record_failure(self, error: BaseException) -> None:
        """The attempt failed with ``error``; only a counted failure (:func:`is_counted`) moves the breaker."""
        if not is_counted(error):
            self.release()
            return
        with self._lock:
            now = self._clock()
            state = self._advance(now)
            self._last_failure = error
            if state == STATE_HALF_OPEN:
                self._times.append(now)
                self._open(now)
            elif state == STATE_CLOSED:
                self._times.append(now)
                self._prune(now)
                if len(self._times) >= self._failure_threshold:
                    self._open(now)
        self._flush()

    def release(self) -> None:
        """The attempt ended in an outcome that is not counted: free the probe slot, change nothing else."""
        with self._lock:
            self._probe_since = None

    def reset(self) -> None:
        """Close the breaker and forget every failure (an operator's override)."""
        with self._lock:
            self._last_failure = None
            self._times.clear()
            if self._state != STATE_CLOSED:
                self._move(STATE_CLOSED)
            self._failure_count = 0
        self._flush()

    def __enter__(self) -> None:
        self.guard()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if exc is None:
            self.record_success()
        elif not isinstance(exc, CircuitOpenError):  # our own refusal (re-check in the limiter's line): no outcome
            self.record_failure(exc)
            if is_counted(exc):
                remaining = self.open_remaining
                if remaining > 0:  # this failure opened the breaker: the retry loop gives up (see _retry)
                    exc.circuit_open_for = remaining  # type: ignore[attr-defined]
        else:
            self.release()
        return False

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        """circuitbreaker's fallback while open: our typed error, before any I/O."""
        raise CircuitOpenError(self.model, self.open_remaining)

    def check(self) -> None:
        """Raise :class:`CircuitOpenError` if the breaker is open now (a re-check that takes no probe slot)."""
        remaining = self.open_remaining
        if remaining > 0:
            raise CircuitOpenError(self.model, remaining)

    # -- internals (call with self._lock held) -------------------------------------------------------

    def _advance(self, now: float) -> str:
        if self._state == STATE_OPEN and self._remaining(now) <= 0:
            self._prune(now)
            self._move(STATE_HALF_OPEN)
        return self._state

    def _remaining(self, now: float) -> float:
        return max(0.0, self._opened + self._recovery_timeout - now)

    def _prune(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        self._failure_count = len(self._times)

    def _open(self, now: float) -> None:
        self._opened = now
        self._prune(now)
        self._move(STATE_OPEN)

    def _move(self, new: str) -> None:
        old = self._state
        self._state = new
        self._probe_since = None
        if new == STATE_CLOSED:
            self._times.clear()
        self._failure_count = len(self._times)
        self._pending.append((old, new, self._failure_count))

    def _flush(self) -> None:
        """Deliver queued transitions in order, outside the state lock."""
        if not self._pending:  # fast path; a thread always sees its own appends, so none is lost
            return
        with self._emit_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            for old, new, count in batch:
                _log.info("breaker {model}: {old} -> {new}", model=self.model, old=old, new=new, failures=count)
                if self._on_transition is None:
                    continue
                try:
                    self._on_transition(self.model, old, new, count)
                except Exception:  # a dashboard hook must never break the call path
                    _log.exception("on_transition hook failed for model {model}", model=self.model)

