"""The limiter's two pyrate-limiter buckets, requests and tokens: put units in them and drop expired entries.

Part of the limiter package, the only place that imports pyrate_limiter; the buckets live on a backend that
``_backends`` opens. Why they are used this way (pyrate-limiter 4.5.1):
- We call ``bucket.put_decision()``, not ``Limiter.try_acquire``: one atomic check gives the verdict and the exact
  retry-after, and we wait with the injected sleep. pyrate's blocking wait uses the real ``time.sleep``, and its
  non-blocking acquire returns False on mere lock contention.
- No leak thread: pyrate's Leaker sleeps 10 s between passes and cannot be woken, so ``close()`` could not stop it.
  No verdict depends on leaking (a bucket counts only its window); acquire drops expired entries every 10 s.
- One bucket counts one unit, so there are two: ``requests`` (``ceil(rpm/60)``/s and ``rpm``/min, as Together
  enforces per second) and ``tokens`` (``tpm``/min, weighted).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

from pyrate_limiter import Decision, Duration, Rate, RateItem

from ..._errors import LocalRateLimitTimeout, TogetherError
from ..._observe._log import get_logger
from ._backends import open_backend, safe_url

__all__ = ["Buckets"]

log = get_logger("limiter")

# Waits end 25 ms after the slot frees. pyrate's retry-after is exact, so without a margin slots are packed at the
# window's edge and any send jitter shows a server counting arrivals an extra request per window (the loopback
# benchmark, 4 processes: a 2 ms margin left 13-17 of 60 one-second windows over, 25 ms 0-3 of 100). Costs about
# 2.5% of a saturated per-second rate.
_BUFFER_S = 0.025
_TOKEN_UNITS_PER_MINUTE = 10_000  # the tokens bucket's resolution (see Buckets.__init__)
_LEAK_EVERY_S = 10.0


class Buckets:
    """The ``requests`` and ``tokens`` buckets of one limiter, on one backend; a limit that is None has none.

    Not locked itself: the limiter calls it with its lock held (the backend's guard covers other processes).
    """

    def __init__(self, *, rpm: int | None, tpm: int | None, backend: str, key: str,
                 clock: Callable[[], float]) -> None:
        self._tpm, self._key = tpm, key
        # pyrate's buckets keep one entry per unit of weight, so tokens are counted in units of tpm/10,000 (at least
        # one token): a call costs at most 10,000 entries whatever the limit. Units are paid ahead (rounded up) and
        # what a call leaves of its last unit is credit the next calls spend first: the bucket never holds fewer
        # tokens than were admitted, and at most one unit more -- not one unit more per call, which would cap the
        # rate at 10,000 calls/min and charge a 300-token call as 400 at 2M TPM.
        self._token_unit = max(1, (tpm or 0) // _TOKEN_UNITS_PER_MINUTE)
        self._token_credit = 0  # tokens already paid for in the bucket and not yet admitted (< one unit)
        specs: dict[str, list[Rate]] = {} if tpm is None else {
            "tokens": [Rate(tpm // self._token_unit, Duration.MINUTE)]}
        per_s = math.ceil((rpm or 0) / 60)  # 100 RPM must not be a 100-request burst
        if rpm is not None:
            per_minute = Rate(rpm, Duration.MINUTE)
            specs["requests"] = [per_minute] if per_s >= rpm else [Rate(per_s, Duration.SECOND), per_minute]
        self.request_limit = f"{rpm} requests/min ({per_s}/s)"  # why a request waits, for its timeout's message
        self._backend = open_backend(backend if specs else "memory", key, specs, clock)  # no limits: no connection
        self._buckets, self._stamp = self._backend.buckets, self._backend.stamp
        self._where = safe_url(backend)
        self.blocking = bool(specs) and backend != "memory"  # puts do I/O: async callers make them in a thread
        self._next_leak = clock() + _LEAK_EVERY_S

    def never_fits(self, tokens: int) -> bool:
        """Whether ``tokens`` exceed the whole tokens/min budget, so that they could never be admitted."""
        return self._tpm is not None and -(-tokens // self._token_unit) > self._tpm // self._token_unit

    def pay_tokens(self, tokens: int) -> float:
        """Pay ``tokens``, credit first, then whole units: 0.0 when paid, else the seconds until the units fit."""
        need = tokens - self._token_credit
        units = -(-need // self._token_unit) if need > 0 else 0
        if units and (wait := self._put("tokens", units)):
            return wait
        self._token_credit = units * self._token_unit - need
        return 0.0

    def take_request(self) -> float:
        """Take one request slot: 0.0 when taken (or there is no request limit), else the seconds until one frees."""
        return self._put("requests", 1) if "requests" in self._buckets else 0.0

    def maybe_leak(self, now: float) -> None:
        """Drop the buckets' expired entries, at most every ``_LEAK_EVERY_S``."""
        if now >= self._next_leak:
            self._next_leak = now + _LEAK_EVERY_S
            for bucket in self._buckets.values():
                try:
                    bucket.leak(self._stamp())
                except Exception as exc:  # housekeeping only: the next put reports a real failure
                    log.bind(error=type(exc).__name__).debug("rate-limit leak failed")

    def close(self) -> None:
        """Release the backend's connections."""
        self._backend.close()

    def _put(self, name: str, weight: int) -> float:
        """Put ``weight`` units in bucket ``name``: 0.0 when admitted, else the seconds until they fit."""
        bucket = self._buckets[name]
        try:
            with self._backend.guard(name):
                item = RateItem(f"{self._key}:{name}", self._stamp(), weight)
                decision = cast(Decision, bucket.put_decision(item))
                wait_ms = decision.retry_after_ms
                if not decision.allowed and wait_ms is None:
                    wait_ms = cast(int, bucket.waiting(item))
        except Exception as exc:  # a remote store failed: wrapped, never leaked raw
            raise TogetherError(f"rate-limit backend {self._where} failed: {type(exc).__name__}: {exc}") from exc
        if decision.allowed:
            return 0.0
        if wait_ms is None or wait_ms < 0:
            raise LocalRateLimitTimeout(0.0, f"{weight} {name} can never fit in the {name} limit")
        return wait_ms / 1000 + _BUFFER_S
