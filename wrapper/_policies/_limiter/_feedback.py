"""What Together's answers teach the limiter: hold after a zero-remaining header, slow down after a dynamic 429.

The holds and the slowed pace are checked before the buckets on every admission attempt (see ``_core``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import cast

from ..._observe._log import get_logger
from .._hints import reset_seconds

__all__ = ["Feedback"]

log = get_logger("limiter")

_DEFAULT_HOLD_S, _MAX_HOLD_S = 1.0, 60.0  # hold without a reset header / longest reset hint believed
# A dynamic 429 halves the effective rate -- once, not per 429: the 429s of requests already in flight, or sporadic
# ones, would otherwise compound it toward zero; holds and the retry policy's waits handle a limit below half.
_SLOW_FACTOR = 0.5
_RECOVER_AFTER_S, _RECOVER_EVERY_S, _RECOVER_STEP = 10.0, 5.0, 0.1  # after 10 s without one, +10% every 5 s
_DYNAMIC_429 = frozenset({"dynamic_request_limited", "dynamic_token_limited"})
_REMAINING = ("x-ratelimit-remaining", "x-ratelimit-remaining-dynamic", "x-tokenlimit-remaining",
              "x-tokenlimit-remaining-dynamic")
_REMAINING_RAW = frozenset(h.encode() for h in _REMAINING)
_RESET = ("x-ratelimit-reset", "x-ratelimit-reset-dynamic", "x-tokenlimit-reset")


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class Feedback:
    """The hold and the slowed pace of one limiter.

    Shares the limiter's lock: :meth:`observe` takes it, the other methods are called with it held.

    Attributes:
        held_until: new acquisitions wait until then (a clock reading): Together said nothing is left.
        received_429: the 429 answers observed.
    """

    def __init__(self, rpm: int | None, lock: threading.Lock, clock: Callable[[], float],
                 wall: Callable[[], float]) -> None:
        self._rpm, self._lock, self._clock, self._wall = rpm, lock, clock, wall
        self.held_until: float | None = None
        self.received_429 = 0
        self._slow_at: float | None = None
        self._last_admit: float | None = None

    def observe(self, status_code: int, headers: Mapping[str, str], error_type: str | None = None) -> None:
        """Learn from an answer: hold new acquisitions when nothing is left; slow down after a dynamic 429."""
        # httpx.Headers already match names case-insensitively, but each get() scans every header: one pass over
        # the raw pairs finds the four counts (the common answer has quota left, and there is nothing to learn)
        raw = getattr(headers, "raw", None)
        if raw is not None:
            exhausted = any(name.lower() in _REMAINING_RAW and _number(value.decode("latin-1")) == 0.0
                            for name, value in raw)
        else:
            exhausted = any(_number(v) == 0.0 for k, v in headers.items() if k.lower() in _REMAINING)
        if status_code != 429 and not exhausted:
            return
        low = headers if raw is not None else {k.lower(): v for k, v in headers.items()}
        with self._lock:
            now = self._clock()
            if status_code == 429:
                self.received_429 += 1
                if error_type in _DYNAMIC_429:
                    self._slow_down(now)
            if exhausted:
                wall = self._wall()  # the same parser as the retry hints: seconds, or a Unix time
                resets = [v for v in (reset_seconds(low.get(h), wall) for h in _RESET) if v is not None]
                until = now + min(_MAX_HOLD_S, max(resets) if resets else _DEFAULT_HOLD_S)
                if self.held_until is None or until > self.held_until:
                    self.held_until = until
                    log.bind(hold_s=round(until - now, 3)).info("Together reports no quota left: holding")

    def pause(self, now: float) -> tuple[float, str]:
        """How long an admission at ``now`` must wait, and why: a hold, else the slowed pace; ``(0.0, "")`` if none."""
        if self.held_until is not None and now < self.held_until:
            return self.held_until - now, "held: Together reported no quota left until its reset"
        effective = self.effective_rpm(now)
        if effective is not None and self._last_admit is not None and effective < cast(int, self._rpm):
            pace = self._last_admit + 60.0 / effective - now
            if pace > 0.0:
                return pace, f"slowed to {effective:.1f} requests/min after Together's 429"
        return 0.0, ""

    def admitted(self, now: float) -> None:
        """An acquisition was admitted at ``now``: the slowed pace counts from the last one."""
        self._last_admit = now

    def effective_rpm(self, now: float) -> float | None:
        """The adaptive rate after 429s (never above the configured rpm), or None without a request limit."""
        if self._rpm is None or self._slow_at is None:
            return None if self._rpm is None else float(self._rpm)
        since = now - self._slow_at - _RECOVER_AFTER_S
        steps = 0 if since < 0 else 1 + int(since // _RECOVER_EVERY_S)
        return self._rpm * min(1.0, _SLOW_FACTOR + _RECOVER_STEP * steps)

    def _slow_down(self, now: float) -> None:
        if self._rpm is not None:
            if cast(float, self.effective_rpm(now)) > self._rpm * _SLOW_FACTOR:
                log.bind(effective_rpm=self._rpm * _SLOW_FACTOR).warning("dynamic 429: slowing down")
            self._slow_at = now  # (re)starts the quiet period before recovery
