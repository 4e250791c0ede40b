"""Waiting in the limiter's line (FIFO), with the injected sleep and an optional precheck.

Generated from ``_async/_line.py`` by ``scripts/generate_sync.py``: do not edit by hand.
"""

from __future__ import annotations

from collections.abc import Callable

from .._core import LimiterCore, SyncSleep

__all__ = ["SyncLine"]


class SyncLine(LimiterCore):
    """Take a slot, waiting in line."""

    def acquire(self, tokens: int = 0, sleep: SyncSleep | None = None, *,
                            precheck: Callable[[], None] | None = None) -> float:
        """Take one request slot (and ``tokens`` estimated tokens), waiting in line if needed.

        Args:
            tokens: the estimated tokens of the request (weighs against tokens/min).
            asleep: how to wait (default: the limiter's own).
            precheck: called before waiting and about every ``_SLICE_S`` while waiting; whatever it raises ends
                the wait (the pipeline passes the breaker's re-check, so an open circuit empties the line at once).

        Returns:
            The seconds waited.
        Raises:
            LocalRateLimitTimeout: the slot cannot come within ``max_wait`` (raised as soon as that is known), or
                ``tokens`` exceeds the whole per-minute token budget, so it could never fit.
        """
        t = self._ticket(tokens)
        if self._depth == 0 and self._attempt(t) == 0.0:
            return 0.0
        self._enter_line()
        try:
            while not self._take_line(self._slice(t, precheck)):
                self._recheck(t, precheck)
            try:
                self._recheck(t, precheck)  # the circuit may have opened while this caller queued
                while (wait := self._attempt(t)) > 0.0:
                    (sleep or self._sleep)(self._step(t, wait, precheck))
                    self._recheck(t, precheck)
            finally:
                self._release_line()
        finally:
            self._leave_line(t)
        return self._clock() - t.start
