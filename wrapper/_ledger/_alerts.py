"""Budget alerts: BudgetThreshold events (once per percent), kept charges, and overrun reservations.

Thresholds are 50, 80 and 100% of the limit, measured on ``used`` (committed + reserved + uncertain, so a hold
counts before it is spent). Each fires once per :class:`BudgetAlerts` object -- one per Ledger -- so every
process sharing a run tells its own hook once. Events go to the ``on_event`` hook; a hook that raises is logged,
never allowed to break a call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from .._observe._events import BudgetBoundExceeded, BudgetThreshold, Event, EventHook, UncertainCharge
from .._observe._log import get_logger
from ._store import RunTotals

__all__ = ["THRESHOLDS", "BudgetAlerts", "halt_message"]

THRESHOLDS = (50, 80, 100)
log = get_logger("ledger")


class BudgetAlerts:
    """The events of one run's budget, each threshold once. Thread-safe."""

    def __init__(self, run_id: str, limit: Decimal | None, on_event: EventHook | None,
                 clock: Callable[[], float], thresholds: tuple[int, ...] = THRESHOLDS) -> None:
        self.run_id = run_id
        self.limit = limit
        self.thresholds = tuple(sorted(set(thresholds)))  # TOGETHER_BUDGET_ALERTS; empty: no alerts
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._fired: set[int] = set()
        self._next = self.thresholds[0] if self.thresholds else 10**9  # the lowest threshold not yet fired
        self._next_used = limit * self._next / 100 if limit is not None else Decimal(0)

    def totals_changed(self, totals: RunTotals) -> None:
        """Fire the thresholds ``totals.used`` has crossed for the first time, lowest first."""
        self.used_changed(totals.used)

    def used_changed(self, used: Decimal) -> None:
        """Fire the thresholds ``used`` has crossed for the first time; one comparison while below the next."""
        limit = self.limit
        if limit is None or used < self._next_used:
            return
        if limit <= 0 or used <= 0:
            return
        with self._lock:
            crossed = [p for p in self.thresholds if p not in self._fired and used * 100 >= limit * p]
            self._fired.update(crossed)
            self._next = min((p for p in self.thresholds if p not in self._fired), default=10**9)
            self._next_used = limit * self._next / 100
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

    def bound_exceeded(self, event: BudgetBoundExceeded) -> None:
        """Log (ERROR) and emit a reservation that reported usage overran: the worst-case bound did not hold."""
        log.bind(run_id=event.run_id, model=event.model, request_id=event.request_id, cost_usd=str(event.cost),
                 reserved_usd=str(event.reserved), prompt_tokens=event.prompt_tokens, prompt_bound=event.prompt_bound,
                 completion_tokens=event.completion_tokens, completion_bound=event.completion_bound).error(
            "reported usage cost more than the call's worst-case reservation: the bound does not hold for {}",
            event.model)
        self.emit(event)

    def emit(self, event: Event) -> None:
        """Deliver one event to the hook, if any; a raising hook is logged."""
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception as exc:  # a broken hook must not break the call
            log.opt(exception=exc).error("on_event hook raised {}", type(exc).__name__)


def halt_message(event: BudgetBoundExceeded) -> str:
    """The BudgetExceededError text of a run that stopped admitting calls after ``event``: what and what to do."""
    return (f"run {event.run_id} admits no new calls: a {event.model} call (request {event.request_id}) reported "
            f"usage costing ${event.cost}, above its worst-case reservation ${event.reserved} (prompt "
            f"{event.prompt_tokens} tokens, bound {event.prompt_bound}; completion {event.completion_tokens}, bound "
            f"{event.completion_bound}), so the budget's bound does not hold for this model. Nothing more is sent "
            "in this run. Check the model's chat template (a long default system prompt?), raise the allowances "
            "in client.ledger.bounds (wrapper._ledger._bounds.Bounds) and start a new client; please report it")
