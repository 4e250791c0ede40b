"""Settling a call's reservation: the :class:`Reservation`, and the ledger methods that record one row per attempt.

:class:`Settling` is a base class of :class:`~wrapper._ledger._ledger.Ledger`, kept apart for size; its methods are
the ledger's, run on the ledger's state (declared below for the type checker, set by ``Ledger.__init__``).
Settling never does I/O: each row is queued to the write-behind writer (:mod:`._writer`) with the charge it moves
out of the call's lease (:mod:`._budget`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from .._observe._events import BudgetBoundExceeded
from .._observe._log import get_logger
from ._alerts import BudgetAlerts
from ._budget import Budget
from ._estimator import Estimate, Estimator
from ._lease import Lease
from ._records import ZERO as _ZERO
from ._records import Entry

if TYPE_CHECKING:
    from ._pricing import Price

__all__ = ["Reservation", "Settling"]

log = get_logger("ledger")


@attrs.define(eq=False)
class Reservation:
    """A call's hold on the budget; settle it exactly once. ``amount`` is None when the price is unknown."""

    id: str
    run_id: str
    estimate: Estimate
    amount: Decimal | None
    settled: bool = False
    lease: Lease | None = None  # the lease the hold came from (None without a budget)


class Settling:
    """The ledger's settling methods: a failed or uncertain attempt inside the retry loop, and the call's end."""

    limit: Decimal | None
    halted: BudgetBoundExceeded | None
    estimator: Estimator
    alerts: BudgetAlerts
    _budget: Budget
    _lock: threading.Lock
    _clock: Callable[[], float]

    if TYPE_CHECKING:
        def price_of(self, model: str) -> Price | None: ...
        def _new_id(self) -> str: ...

    def record_attempt(self, r: Reservation, *, request_id: str | None, latency_s: float | None, attempt: int,
                       status: int | None, error_type: str | None) -> None:
        """Record a definitely failed attempt inside a retry loop (no charge; the reservation stays open)."""
        self._add(self._row(r, "error", Decimal(0), request_id=request_id, latency_s=latency_s, attempt=attempt,
                            status=status, error_type=error_type, new=True))

    def charge_uncertain_attempt(self, r: Reservation, *, request_id: str | None, latency_s: float | None,
                                 attempt: int, reason: str, status: int | None = None) -> bool:
        """Charge an intermediate attempt that may have been billed (its estimate), keeping ``r`` open.

        Returns:
            Whether the run is still within its limit after the charge, as far as this client knows without I/O
            (always True without a budget); when False, a retry could overspend: stop retrying.
        """
        entry = self._row(r, "uncertain", r.amount, request_id=request_id, latency_s=latency_s, attempt=attempt,
                          status=status, error_type=reason, new=True)
        within = self._budget.charge(r.lease, entry.uncertain, entry)
        self.alerts.uncertain(r.estimate.model, r.amount, request_id, reason)
        return within

    def settle_ok(self, r: Reservation, *, usage_prompt: int | None, usage_completion: int | None,
                  request_id: str | None, latency_s: float | None, attempt: int, status: int = 200) -> Decimal | None:
        """Commit the actual cost from usage and release the rest of the hold.

        Missing usage counts as the estimate (prompt estimate, the full ``max_tokens``): billed, amount unknown.

        Returns:
            The cost recorded, or None when the model has no price.
        """
        est = r.estimate
        if usage_prompt is None or usage_completion is None:
            log.bind(model=est.model, request_id=request_id).warning("no usage in the answer: charging the estimate")
        prompt = usage_prompt if usage_prompt is not None else est.prompt_tokens
        completion = usage_completion if usage_completion is not None else est.max_completion_tokens
        price = self.price_of(est.model)
        cost = price.cost(prompt, completion) if price is not None else None
        if usage_prompt is not None and est.size.learnable:
            self.estimator.learn(est.model, est.size.units, usage_prompt)
        if cost is not None and r.amount is not None and cost > r.amount:  # the worst case was not the worst
            event = BudgetBoundExceeded(
                at=self._clock(), run_id=r.run_id, model=est.model, reserved=r.amount, cost=cost,
                prompt_tokens=usage_prompt, prompt_bound=est.prompt_tokens, completion_tokens=usage_completion,
                completion_bound=est.max_completion_tokens, request_id=request_id)
            if self.limit is not None:
                self.halted = event  # before the hook runs: from now on reserve() refuses
            self.alerts.bound_exceeded(event)
        self._settle(r, self._row(r, "ok", cost, request_id=request_id, latency_s=latency_s, attempt=attempt,
                                  status=status, prompt=usage_prompt, completion=usage_completion))
        return cost

    def settle_error(self, r: Reservation, *, request_id: str | None, latency_s: float | None, attempt: int,
                     status: int | None, error_type: str | None) -> None:
        """The call definitely failed (nothing billed): release the whole hold."""
        self._settle(r, self._row(r, "error", Decimal(0), request_id=request_id, latency_s=latency_s,
                                  attempt=attempt, status=status, error_type=error_type))

    def settle_uncertain(self, r: Reservation, *, request_id: str | None, latency_s: float | None, attempt: int,
                         reason: str, status: int | None = None) -> None:
        """The call may have been billed without an answer: keep the estimate as an uncertain charge."""
        self._settle(r, self._row(r, "uncertain", r.amount, request_id=request_id, latency_s=latency_s,
                                  attempt=attempt, status=status, error_type=reason))
        self.alerts.uncertain(r.estimate.model, r.amount, request_id, reason)

    def _row(self, r: Reservation, outcome: str, cost: Decimal | None, *, request_id: str | None,
             latency_s: float | None, attempt: int, status: int | None, error_type: str | None = None,
             prompt: int | None = None, completion: int | None = None, new: bool = False) -> Entry:
        """A history row as the writer queues it (a tuple in LedgerRow's column order, time as epoch seconds),
        with the charge it moves: ``ok`` commits ``cost``, ``uncertain`` keeps it, ``error`` charges nothing."""
        charge = cost or _ZERO
        values = (self._new_id() if new else r.id, self._clock(), r.run_id, r.id, r.estimate.model, outcome, attempt,
                  request_id, prompt, completion, r.amount, cost,
                  None if latency_s is None else round(latency_s * 1000.0, 3), status, error_type)
        return Entry(values, None if r.lease is None else r.lease.id, charge if outcome == "ok" else _ZERO,
                     charge if outcome == "uncertain" else _ZERO)

    def _settle(self, r: Reservation, entry: Entry) -> None:
        """End the hold in memory and queue the row (the writer flushes it; a failed write is retried)."""
        with self._lock:
            if r.settled:
                raise RuntimeError(f"reservation {r.id} is already settled")
            r.settled = True
        self._budget.settle(r.lease, r.amount, entry.committed + entry.uncertain, entry)

    def _add(self, entry: Entry) -> None:
        self._budget.writer.put(entry)
