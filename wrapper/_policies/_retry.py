"""Retry policy: decide whether a failed attempt is retried and how long to wait first, inside backoff's retry loop.

The decisions (:class:`RetryState`) are pure: they never sleep, and the clock reading and the ``random.Random``
are passed in, so tests are deterministic and instant.

The retry *loop* is ``backoff.on_exception`` (:func:`retrying`), sync or async, around one attempt of any
endpoint. It is configured so that backoff only loops and sleeps, and every decision is ours:

* ``wait_gen`` is :func:`hinted_waits`: backoff sends each failure into it and it answers with
  :meth:`RetryState.next_wait` -- the server's ``retry-after(-ms)`` / ``x-ratelimit-reset`` hint when there is
  one, the exponential step (``backoff.expo``) otherwise, our own jitter (which never shortens a hint) -- or
  stops (backoff then gives up and re-raises) when waiting would pass the deadline, a hint is above
  ``max_wait``, or the failure just opened the model's breaker (a retry would only fail fast);
* ``jitter=None`` (backoff's full jitter would shorten server hints), ``giveup`` = not
  :func:`~._retryable.is_retryable`, ``max_tries`` = ``max_retries + 1``, ``max_time`` = the call's deadline,
  ``logger=None``: the ``on_backoff``/``on_giveup`` handlers log and emit our events instead.

Streams are retried by the same loop around their *opener* (up to the first event), never after output was
delivered (backoff cannot retry an async generator, and must not).

Which failures are retried is decided in ``_retryable``. The only other module importing backoff is
``_retry_sleep``, a test hook that makes backoff sleep with injected functions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from typing import Any, cast

import attrs
import backoff

from .._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
)
from .._settings import Settings
from ._hints import parse_retry_after, reset_seconds, should_retry_header
from ._retryable import is_retryable

__all__ = [
    "RetryPolicy",
    "RetryState",
    "describe",
    "hinted_waits",
    "retrying",
    "parse_retry_after",
    "reset_seconds",
    "should_retry_header",
]


def _must(rule: str, test: Callable[[float], bool], *, optional: bool = False) -> Any:
    """An attrs validator raising :class:`ConfigError` unless ``value`` is a finite number passing ``test``."""

    def check(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and test(value)):  # type: ignore[arg-type]
            raise ConfigError(f"RetryPolicy.{attribute.name} must be {rule}, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How one call is retried; immutable and shared by every call of a client.

    Attributes:
        max_retries: retries after the first attempt (3 = four attempts in all).
        base: the first computed wait in seconds; each later one doubles (2, 4, 8 s).
        max_wait: cap on one wait; a server hint above it gives up at once.
        deadline: total seconds one call may spend across attempts and waits; None = no limit.
        retry_read_timeouts: retry attempts that may have reached Together (and may be billed).
        jitter: fraction (0 <= jitter < 1) by which computed waits vary up or down; server
            hints only ever grow by it.
    """

    max_retries: int = attrs.field(default=3, validator=_must("an int >= 0", lambda v: v >= 0 and v == int(v)))
    base: float = attrs.field(default=2.0, validator=_must("> 0", lambda v: v > 0))
    max_wait: float = attrs.field(default=60.0, validator=_must("> 0", lambda v: v > 0))
    deadline: float | None = attrs.field(default=300.0, validator=_must("> 0 or None", lambda v: v > 0, optional=True))
    retry_read_timeouts: bool = True
    jitter: float = attrs.field(default=0.25, validator=_must("in [0, 1)", lambda v: 0 <= v < 1))

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        """Build the policy from ``TOGETHER_MAX_RETRIES`` / ``TOGETHER_RETRY_*`` settings."""
        return cls(
            max_retries=s.max_retries,
            base=s.retry_base,
            max_wait=s.retry_max_wait,
            deadline=s.retry_deadline,
            retry_read_timeouts=s.retry_read_timeouts,
        )

    def start(self, now: float, rng: random.Random) -> RetryState:
        """Begin one call: ``now`` is a monotonic clock reading taken before the first attempt."""
        return RetryState(self, now, rng)


class RetryState:
    """The retry bookkeeping of one call; not shared between calls or threads.

    Attributes:
        attempts: attempts made (and failed) so far, as counted by :meth:`next_wait`.
        last_reason: a short label of the last failure (``"503"``, ``"429 dynamic_request_limited"``,
            ``"connect error"``, ``"read timeout"``), for logs and ``RetryScheduled`` events.
        gave_up: why the last :meth:`next_wait` returned None, or None while retrying.
    """

    def __init__(self, policy: RetryPolicy, now: float, rng: random.Random) -> None:
        self.policy = policy
        self.started = now
        self.attempts = 0
        self.last_reason: str | None = None
        self.gave_up: str | None = None
        self._rng = rng
        self._schedule: Generator[float, Any, None] = backoff.expo(
            base=2, factor=policy.base, max_value=policy.max_wait
        )
        next(self._schedule)  # backoff's generators yield None first (they are primed by send(None))

    def remaining(self, now: float) -> float | None:
        """Seconds left before the call's deadline (never negative), or None without a deadline."""
        if self.policy.deadline is None:
            return None
        return max(0.0, self.started + self.policy.deadline - now)

    def next_wait(self, error: BaseException, now: float) -> float | None:
        """Record a failed attempt and decide what happens next.

        Args:
            error: what the attempt raised (after mapping to our error tree).
            now: the monotonic clock reading, same clock as :meth:`RetryPolicy.start`.

        Returns:
            Seconds to wait before the next attempt, or None to give up (the caller raises ``error``).
        """
        self.attempts += 1
        self.last_reason = describe(error)
        verdict = self._decide(error, now)
        self.gave_up = verdict if isinstance(verdict, str) else None
        return None if isinstance(verdict, str) else verdict

    def _decide(self, error: BaseException, now: float) -> float | str:
        """The wait before the next attempt, or why there is none."""
        policy = self.policy
        if not is_retryable(error, policy.retry_read_timeouts):
            return "not retryable"
        if self.attempts > policy.max_retries:
            return f"{self.attempts} attempts made, max_retries={policy.max_retries}"
        computed = next(self._schedule)  # advance on every retry so step n is always retry n
        hint = error.retry_after if isinstance(error, APIStatusError) else None
        if hint is not None and hint > policy.max_wait:
            return f"server asked for {hint:.1f}s, above max_wait={policy.max_wait:.1f}s"
        wait = self._hinted(hint) if hint is not None else self._jittered(computed)
        if policy.deadline is not None and now + wait > self.started + policy.deadline:
            return f"waiting {wait:.1f}s would pass the {policy.deadline:g}s deadline"
        return wait

    def _jittered(self, computed: float) -> float:
        """Spread a computed wait by +/- jitter without ever passing max_wait."""
        j = self.policy.jitter
        low = computed * (1 - j)
        high = min(computed * (1 + j), self.policy.max_wait)
        return self._rng.uniform(low, high)

    def _hinted(self, hint: float) -> float:
        """Honour a server hint: jitter only lengthens it (up to max_wait), never shortens it."""
        grown = hint * (1 + self._rng.uniform(0, self.policy.jitter))
        return max(hint, min(grown, self.policy.max_wait))


def describe(error: BaseException) -> str:
    """A short label of a failure for logs and events (``"503"``, ``"read timeout"``, ...)."""
    if isinstance(error, APIStatusError):
        return f"{error.status_code} {error.type}" if error.type else str(error.status_code)
    if isinstance(error, APITimeoutError):
        return "read timeout" if error.sent else "connect timeout"
    if isinstance(error, APIConnectionError):
        return "connection lost" if error.sent else "connect error"
    if isinstance(error, APIResponseValidationError):
        return "invalid response"
    return type(error).__name__


@attrs.frozen
class WaitEnv:
    """What :func:`hinted_waits` reads besides the policy: the monotonic clock and the random source.

    (A plain object on purpose: backoff *calls* every callable keyword it passes to a wait generator.)
    """

    clock: Callable[[], float]
    rng: random.Random


def hinted_waits(policy: RetryPolicy, env: WaitEnv) -> Generator[float | None, BaseException, None]:
    """backoff's ``wait_gen``: receives each failure, yields the wait before the next attempt, or stops.

    Primed by backoff with ``send(None)``; every later ``send(error)`` is one failed attempt.
    """
    started = env.clock()
    error = yield None
    state = RetryState(policy, started, env.rng)  # only once an attempt failed: most calls never need it
    while True:
        wait = state.next_wait(error, env.clock())
        if wait is None:
            return
        opened_for = getattr(error, "circuit_open_for", None)
        if opened_for is not None and opened_for > wait:
            return  # this failure opened the breaker: a retry would sleep only to fail fast
        error = yield wait


def retrying(
    fn: Callable[..., Any],
    policy: RetryPolicy,
    *,
    env: WaitEnv,
    on_backoff: Callable[[Any, BaseException, float], None],
    on_giveup: Callable[[Any, BaseException], None],
) -> Callable[..., Any]:
    """Wrap one attempt ``fn(call, ...)`` (sync or async) in backoff's retry loop, as the module notes say.

    Args:
        fn: the attempt; its first argument is the call's state, handed to the handlers.
        policy: the retry policy (immutable; decorate again for another one).
        on_backoff: ``(call, error, wait)`` after a failure that will be retried, before the sleep.
        on_giveup: ``(call, error)`` when the call fails for good (the error is then re-raised).
    """
    retryable = policy.retry_read_timeouts

    def giveup(error: Exception) -> bool:
        return not is_retryable(error, retryable)

    def backed_off(details: Any) -> None:
        on_backoff(details["args"][0], details["exception"], details["wait"])

    def gave_up(details: Any) -> None:
        on_giveup(details["args"][0], details["exception"])

    decorate = backoff.on_exception(
        cast(Any, hinted_waits), APIError, max_tries=policy.max_retries + 1, max_time=policy.deadline, jitter=None,
        giveup=giveup, on_backoff=backed_off, on_giveup=gave_up, logger=None, policy=policy, env=env)
    wrapped: Callable[..., Any] = decorate(fn)
    return wrapped
