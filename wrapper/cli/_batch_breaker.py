"""How the batch workers wait out a model's open circuit instead of failing its rows or knocking all at once.

A row refused by an open breaker is not failed: its worker waits for the probe and tries again. A transient
failure the client gave up on because the breaker opened counts the same way. Once a model's circuit has been
open longer than ``--breaker-patience``, the run stops (reason ``breaker``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from wrapper import APIError, APIStatusError, AsyncClient, TogetherError
from wrapper.cli._batch_stats import ProgressSink

__all__ = ["PROBE_SPACING", "CircuitWaits"]

PROBE_SPACING = 0.25  # seconds between tries while a circuit is open (one ledger row each)


class CircuitWaits:
    """Per model: when its circuit was first seen open, and until when the workers wait before trying again.

    Args:
        client: the run's client (its ``breaker_states`` say whether a circuit is open).
        patience: seconds a circuit may stay open before the run stops.
        clock: monotonic seconds.
        stopping: set once the run is stopping; a wait ends early then.
        progress: told when a circuit is first seen open.
        stop: the runner's ``stop(reason, detail)``.
    """

    def __init__(self, client: AsyncClient, *, patience: float, clock: Callable[[], float], stopping: asyncio.Event,
                 progress: ProgressSink, stop: Callable[[str, str], None]) -> None:
        self._client, self._patience, self._clock = client, patience, clock
        self._stopping, self._progress, self._stop = stopping, progress, stop
        self._open_since: dict[str, float] = {}  # per model: when its circuit was first seen open
        self._open_until: dict[str, float] = {}  # per model: workers wait until then before trying again

    async def gate(self, model: str) -> bool:
        """Wait while ``model``'s circuit is known to be open, then let one worker try (it may be the probe).

        Calling ``create`` against an open circuit costs nothing but still writes a ledger row, so the workers
        wait here instead of all knocking at once. False when the run is stopping.
        """
        while not self._stopping.is_set():
            until, now = self._open_until.get(model), self._clock()
            if until is None:
                return True
            if now >= until:
                self._open_until[model] = now + PROBE_SPACING  # the others wait while this one tries
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=until - now)
        return False

    def is_open(self, model: str) -> bool:
        """Whether the client's breaker for ``model`` is open now."""
        states = {name.casefold(): state for name, state in self._client.breaker_states.items()}
        return states.get(model.casefold()) == "open"

    def outage(self, model: str, exc: TogetherError) -> bool:
        """A transient failure (5xx, 429, connection) the client gave up on because the model's breaker opened:
        the row is not failed, it waits for the breaker like a refused one."""
        client_fault = isinstance(exc, APIStatusError) and exc.status_code < 500 and exc.status_code != 429
        return isinstance(exc, APIError) and not client_fault and self.is_open(model)

    def opened(self, model: str, retry_in: float) -> None:
        """Note when ``model``'s circuit opened; stop once it has been open longer than the patience."""
        now = self._clock()
        since = self._open_since.setdefault(model, now)
        if since == now:
            self._progress.note(f"circuit for {model} is open: waiting for it (patience {self._patience:g}s)")
        open_for = now - since
        if open_for > self._patience:
            self._stop("breaker", f"the circuit for {model} stayed open for {open_for:.1f}s "
                                  f"(more than --breaker-patience {self._patience:g}s)")
        wait = min(max(retry_in, PROBE_SPACING), self._patience - open_for + 0.05, 5.0)
        self._open_until[model] = now + max(wait, 0.0)

    def answered(self, model: str, answered: str) -> None:
        """A row sent to ``model`` got an answer (from ``answered``, a fallback perhaps): forget the open circuit
        unless it is still open and the answer came from ``model`` itself."""
        if answered.casefold() != model.casefold() or not self.is_open(model):
            # a row sent before the circuit opened may still succeed; a fallback answering means the way is clear
            self._open_since.pop(model, None)
            self._open_until.pop(model, None)
