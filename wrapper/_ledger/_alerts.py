"""Budget alerts: turn a run's totals into BudgetThreshold events (once per percent) and log kept charges.

Thresholds are 50, 80 and 100% of the limit, measured on ``used`` (committed + reserved + uncertain, so a hold
counts before it is spent). Each fires once per :class:`BudgetAlerts` object -- one per Ledger -- so every
process sharing a run tells its own hook once. Events go to the ``on_event`` hook; a hook that raises is logged,
never allowed to break a call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from .._observe._events import BudgetThreshold, Event, EventHook, UncertainCharge
from .._observe._log import get_logger
from ._store import RunTotals

__all__ = ["THRESHOLDS", "BudgetAlerts"]

THRESHOLDS = (50, 80, 100)
log = get_logger("ledger")


class BudgetAlerts:
    """The events of one run's budget, each threshold once. Thread-safe."""

    def __init__(self, run_id: str, limit: Decimal | None, on_event: EventHook | None,
                 clock: Callable[[], float]) -> None:
        self.run_id = run_id
        self.limit = limit
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._fired: set[int] = set()

    def totals_changed(self, totals: RunTotals) -> None:
        """Fire the thresholds ``totals.used`` has crossed for the first time, lowest first."""
        limit, used = self.limit, totals.used
        if limit is None or limit <= 0 or used <= 0:
            return
        with self._lock:
            crossed = [p for p in THRESHOLDS if p not in self._fired and used * 100 >= limit * p]
            self._fired.update(crossed)
        for percent in crossed:
            log.bind(run_id=self.run_id, percent=percent, used_usd=str(used), limit_usd=str(limit)).warning(
                "budget {}% used", percent)
            self.emit(BudgetThreshold(at=self._clock(), run_id=self.run_id, percent=percent, spent=used,
                                      limit=limit))

    def uncertain(self, model: str, amount: Decimal | None, request_id: str | None, reason: str) -> None:
        """Log a kept estimate and, when its amount is known, emit UncertainCharge."""
        log.bind(model=model, request_id=request_id, cost_usd=str(amount), reason=reason).warning(
            "uncertain outcome: keeping the estimate as a charge")
        if amount is not None:
            self.emit(UncertainCharge(at=self._clock(), run_id=self.run_id, model=model, amount=amount,
                                      request_id=request_id, reason=reason))

    def emit(self, event: Event) -> None:
        """Deliver one event to the hook, if any; a raising hook is logged."""
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception as exc:  # a broken hook must not break the call
            log.opt(exception=exc).error("on_event hook raised {}", type(exc).__name__)
