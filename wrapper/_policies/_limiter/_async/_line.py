"""Waiting in the limiter's line (FIFO), with the injected sleep and an optional precheck.

This file is the source; ``_sync/_line.py`` is generated from it by ``scripts/generate_sync.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from .._core import AsyncSleep, LimiterCore

__all__ = ["AsyncLine"]


class AsyncLine(LimiterCore):
    """Take a slot, waiting in line."""

    async def acquire_async(self, tokens: int = 0, asleep: AsyncSleep | None = None, *,
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
        if self._depth == 0 and await self._attempt_async(t) == 0.0:
            return 0.0
        self._enter_line()
        try:
            while not await self._take_line_async(self._slice(t, precheck)):
                self._recheck(t, precheck)
            try:
                self._recheck(t, precheck)  # the circuit may have opened while this caller queued
                while (wait := await self._attempt_async(t)) > 0.0:
                    await (asleep or self._asleep)(self._step(t, wait, precheck))
                    self._recheck(t, precheck)
            finally:
                self._release_line_async()
        finally:
            self._leave_line(t)
        return self._clock() - t.start
