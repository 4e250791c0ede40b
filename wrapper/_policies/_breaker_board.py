"""The breakers of one client: one :class:`ModelBreaker` per model, made on first use, and their decorator.

The breaker itself, its states and what counts as a failure, is in ``_breaker``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from .._settings import Settings
from ._breaker import ModelBreaker, OnTransition

__all__ = ["BreakerBoard"]


class BreakerBoard:
    """The breakers of one client (and its ``with_options`` copies): one per model, made on first use."""

    def __init__(
        self,
        *,
        failures: int = 5,
        window: float = 60.0,
        recovery: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_transition: OnTransition | None = None,
    ) -> None:
        self.failures = failures
        self.window = window
        self.recovery = recovery
        self._clock = clock
        self._on_transition = on_transition
        self._breakers: dict[str, ModelBreaker] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, s: Settings, clock: Callable[[], float] = time.monotonic, on_transition: OnTransition | None = None
    ) -> BreakerBoard:
        """Build a board from ``TOGETHER_BREAKER_FAILURES`` / ``_WINDOW`` / ``_RECOVERY``."""
        return cls(failures=s.breaker_failures, window=s.breaker_window, recovery=s.breaker_recovery,
                   clock=clock, on_transition=on_transition)

    def get(self, model: str) -> ModelBreaker:
        """The breaker of ``model``; ids differing only in case share one (Together lower-cases some)."""
        key = model.casefold()
        with self._lock:
            breaker = self._breakers.get(key)
            if breaker is None:
                breaker = ModelBreaker(model, failures=self.failures, window=self.window, recovery=self.recovery,
                                       clock=self._clock, on_transition=self._on_transition)
                self._breakers[key] = breaker
        return breaker

    def decorate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap one attempt ``fn(call, ...)`` (sync or async) in the breaker of ``call.key``.

        Each model's breaker decorates ``fn`` once, with circuitbreaker's own decorator: it refuses while open
        (our :class:`CircuitOpenError`, through its fallback hook) and runs the attempt under ``with breaker:``,
        whose ``__enter__``/``__exit__`` are the windowed, single-probe rules of :class:`ModelBreaker`.
        """
        guarded: dict[str, Callable[..., Any]] = {}

        def of(key: str) -> Callable[..., Any]:
            found = guarded.get(key)
            if found is None:
                found = guarded[key] = self.get(key).decorate(fn)
            return found

        if iscoroutinefunction(fn):
            async def run_async(call: Any, *args: Any, **kwargs: Any) -> Any:
                return await of(call.key)(call, *args, **kwargs)

            return run_async

        def run(call: Any, *args: Any, **kwargs: Any) -> Any:
            return of(call.key)(call, *args, **kwargs)

        return run

    def states(self) -> dict[str, str]:
        """Each known model (as first spelled) and its state: ``closed``, ``open`` or ``half_open``."""
        with self._lock:
            breakers = list(self._breakers.values())
        return {b.model: b.state for b in breakers}
