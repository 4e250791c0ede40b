"""The cost ledger: pre-flight estimates, budget reservations, and one recorded row per attempt.

The call flow (one reservation per call, made before the retry loop; one row per attempt)::

    est = ledger.estimate(model, messages, max_tokens)   # conservative tokens, maximum cost
    r = ledger.try_reserve(est) or ledger.reserve(est)   # from the lease in memory; else one lease transaction
    for each failed attempt that does not end the call:
        ledger.record_attempt(r, ...)                     # definite failure: a row, no charge
        ledger.charge_uncertain_attempt(r, ...)           # may have been billed: a row charging the estimate
    ledger.settle_ok(r, ...) | settle_error(r, ...) | settle_uncertain(r, ...)   # exactly once

Budget (Decimal USD per run; a run is a client's lifetime unless a run id is named, and processes naming one run
on one store share it): ``used = committed + reserved + uncertain``, where ``reserved`` is what the clients'
budget leases hold. A call's worst case is held from this client's lease in memory; a lease is taken (or topped
up) in one store transaction that checks ``used + need <= limit`` atomically (:mod:`._lease` has the sizing rule
and stale leases, :mod:`._budget` the in-memory side). ``settle_ok`` commits the actual cost (the estimate if
usage is missing) and frees the rest of the hold for this client's next calls; ``settle_error`` frees all;
``settle_uncertain`` keeps the estimate. A timed-out attempt that is then retried may *also* have been billed:
``charge_uncertain_attempt`` charges its estimate without ending the reservation and says whether the run is
still within its limit as far as this client knows (if not, stop retrying). Or settle as uncertain and
``reserve`` again before the retry, so the budget gates every retry.

Settling never does I/O: rows are queued to the write-behind writer (:mod:`._writer`; every 100 ms, at
:meth:`Ledger.flush` and :meth:`Ledger.close`). A failed write is logged and retried, never raised (the answer is
not lost; the charges stay held in the lease, counted as used). ``close()`` returns the lease's unused rest.
Alerts: :mod:`wrapper._ledger._alerts`.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from .._errors import BudgetExceededError, ConfigError
from .._observe._events import BudgetBoundExceeded, EventHook
from .._observe._log import get_logger
from .._settings import Settings
from ._alerts import THRESHOLDS, BudgetAlerts, halt_message
from ._bounds import Bounds
from ._budget import Budget
from ._estimator import Estimate, Estimator
from ._lease import Lease, LeasePolicy, LeaseRow
from ._pricing import Price, PriceTable, default_price_cache_path
from ._records import ZERO as _ZERO
from ._records import Entry, LedgerRow, RunTotals
from ._store import Store, open_store
from ._writer import FLUSH_INTERVAL_S

__all__ = ["BudgetStatus", "Estimate", "Ledger", "Reservation"]

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


@attrs.frozen
class BudgetStatus:
    """A run's budget at a glance (USD); ``limit``/``remaining`` are None without a budget."""

    run_id: str
    limit: Decimal | None
    committed: Decimal
    reserved: Decimal
    uncertain: Decimal
    remaining: Decimal | None
    leased: Decimal = Decimal(0)
    """This client's lease room: taken from the run, not yet held by a call (not in ``reserved``)."""
    open_leases: int = 0
    stale_leases: int = 0
    stale: Decimal = Decimal(0)
    """USD charged as uncertain by settling stale leases of dead clients (part of ``uncertain``)."""


class Ledger:
    """Estimates, reserves and records the cost of calls against one run's budget. Thread-safe.

    ``bounds`` holds the allowances of the worst-case prompt bound (replace it on an instance to tune them);
    ``halted`` is the overrun that stopped admission in this run, if any (see :meth:`settle_ok`).
    """

    bounds: Bounds = Bounds()
    halted: BudgetBoundExceeded | None = None

    def __init__(self, *, store: Store, prices: PriceTable | None = None, estimator: Estimator | None = None,
                 limit: Decimal | None = None, run_id: str | None = None, on_event: EventHook | None = None,
                 clock: Callable[[], float] = time.time, fallback_price: Decimal | None = None,
                 default_max_tokens: int = 1024, lease_policy: LeasePolicy | None = None,
                 flush_interval_s: float | None = FLUSH_INTERVAL_S,
                 alert_thresholds: tuple[int, ...] = THRESHOLDS) -> None:
        """Build a ledger on ``store`` (closed by :meth:`close`).

        Args:
            limit: the run's budget in USD (``MAX_ESTIMATED_COST``); None for no budget.
            run_id: the budget's name; default: a fresh one (the run is this object's lifetime).
            on_event: receives BudgetThreshold and UncertainCharge events.
            clock: wall clock, epoch seconds (row times and event times).
            fallback_price: USD per 1M tokens (in and out) for models missing from ``prices``.
            default_max_tokens: the completion bound assumed for calls that name no ``max_tokens``.
            lease_policy: how budget leases are sized and kept alive (:class:`~wrapper._ledger._lease.LeasePolicy`).
            flush_interval_s: the history writer's period; None starts no writer thread (rows are written by
                :meth:`flush`, by reads and at :meth:`close`: for tests).
        """
        self._store = store
        self.prices = prices if prices is not None else PriceTable.builtin()
        self.estimator = estimator if estimator is not None else Estimator()
        self.limit = limit
        self._clock = clock
        self.run_id = run_id or f"run-{datetime.fromtimestamp(clock(), UTC):%Y%m%dT%H%M%SZ}-" \
                                f"{uuid.uuid4().hex[:8]}"
        self.alerts = BudgetAlerts(self.run_id, limit, on_event, clock, alert_thresholds)
        self._fallback = Price(fallback_price, fallback_price) if fallback_price is not None else None
        self.default_max_tokens = default_max_tokens
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._id_prefix, self._ids = uuid.uuid4().hex[:16], itertools.count()
        self._budget = Budget(store, run_id=self.run_id, limit=limit, alerts=self.alerts, clock=clock,
                              policy=lease_policy, flush_interval_s=flush_interval_s)

    @classmethod
    def from_settings(cls, settings: Settings, *, run_id: str | None = None, on_event: EventHook | None = None,
                      clock: Callable[[], float] = time.time, store: Store | None = None,
                      prices: PriceTable | None = None) -> Ledger:
        """Build the ledger a client uses from its settings (store from ``TOGETHER_LEDGER_URL``).

        Raises:
            ConfigError: the store cannot be opened or the prices file is invalid.
        """
        return cls(store=store if store is not None else open_store(settings.ledger_url),
                   prices=prices or PriceTable.from_settings(settings, cache=default_price_cache_path()),
                   limit=settings.max_estimated_cost, run_id=run_id or settings.run_id, on_event=on_event,
                   clock=clock, fallback_price=settings.fallback_price,
                   default_max_tokens=settings.default_max_tokens, alert_thresholds=settings.budget_alerts)

    def price_of(self, model: str) -> Price | None:
        """The model's price, else the fallback price, else None (warned once per model)."""
        price = self.prices.get(model)
        if price is not None:
            return price
        with self._lock:
            first = model.lower() not in self._warned
            self._warned.add(model.lower())
        if first:
            log.bind(model=model, fallback=str(self._fallback.input) if self._fallback else None).warning(
                "no price known for model {}: its cost is {}", model, "the fallback price" if self._fallback
                else "unknown; set TOGETHER_FALLBACK_PRICE or TOGETHER_PRICES_FILE")
        return self._fallback

    def estimate(self, model: str, messages: Sequence[Mapping[str, object]], max_tokens: int | None = None, *,
                 tools: object = None, response_format: object = None, n: int | None = None) -> Estimate:
        """Estimate a call: its provable worst case (what admission reserves) and its expected cost (to show).

        The worst case is :class:`~wrapper._ledger._bounds.Bounds` prompt tokens plus ``max_tokens * n``
        completion tokens; the learned estimator gives the expected prompt tokens, capped at the bound.

        Args:
            messages: the request's messages as dicts (chat API shape), as they will be sent.
            max_tokens: the request's ``max_tokens``; None means ``default_max_tokens`` (the clients send that
                value when a budget is set, so the bound holds).
            tools: the request's ``tools``, counted as JSON text.
            response_format: the request's ``response_format``, counted as JSON text.
            n: the request's ``n`` (choices per call; None means 1): each choice may use ``max_tokens``.
        """
        prompt = self.bounds.prompt_tokens(messages, tools, response_format)
        size = self.estimator.measure(messages, tools)
        expected = min(prompt, self.estimator.tokens(model, size))
        completion = (max_tokens if max_tokens is not None else self.default_max_tokens) * max(1, n or 1)
        price = self.price_of(model)
        cost = price.cost(prompt, completion) if price is not None else None
        expected_cost = price.cost(expected, completion) if price is not None else None
        return Estimate(model=model, prompt_tokens=prompt, max_completion_tokens=completion, cost=cost, size=size,
                        expected_prompt_tokens=expected, expected_cost=expected_cost)

    def reserve(self, estimate: Estimate) -> Reservation:
        """Hold ``estimate.cost`` (the call's worst case) against the budget before the call sends anything.

        The hold comes from this client's lease in memory; when the lease lacks room this takes or tops up the
        lease in one store transaction (I/O: async callers use :meth:`try_reserve` first and run this in a thread).

        Raises:
            BudgetExceededError: the estimate does not fit in what is left of the run's budget.
            ConfigError: a budget is set but the model has no price and no fallback price; or the store failed.
        """
        self._check_admission(estimate)
        if self.limit is None or estimate.cost is None:
            return self._unbudgeted(estimate)
        return Reservation(id=self._new_id(), run_id=self.run_id, estimate=estimate, amount=estimate.cost,
                           lease=self._budget.hold(estimate.cost))

    def try_reserve(self, estimate: Estimate) -> Reservation | None:
        """Like :meth:`reserve`, from this client's lease in memory only: never I/O, never a lock held across I/O.

        Returns:
            The reservation, or None when a lease transaction is needed (then call :meth:`reserve`, off the loop).

        Raises:
            ConfigError: a budget is set but the model has no price and no fallback price.
        """
        if self.halted is not None:
            return None  # reserve() raises the halt, with the run's figures (which need the store)
        if self.limit is None or estimate.cost is None:
            return self._unbudgeted(estimate)
        lease = self._budget.try_hold(estimate.cost)
        if lease is None:
            return None
        return Reservation(id=self._new_id(), run_id=self.run_id, estimate=estimate, amount=estimate.cost,
                           lease=lease)

    def _unbudgeted(self, estimate: Estimate) -> Reservation:
        if self.limit is not None:
            raise ConfigError(f"no price known for model {estimate.model!r}; set TOGETHER_FALLBACK_PRICE or "
                              "TOGETHER_PRICES_FILE (a budget needs a price for every model)")
        return Reservation(id=self._new_id(), run_id=self.run_id, estimate=estimate, amount=estimate.cost)

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

    def totals(self) -> RunTotals:
        """This run's totals (shared with other processes naming the same run), after flushing this client's rows.

        ``reserved`` is what calls hold: this client's calls in flight plus other clients' leases; this client's
        own unused lease is not counted (it is still this client's to spend, and goes back at :meth:`close`).
        """
        return self._budget.view()

    def spent(self) -> Decimal:
        """USD committed plus uncertain charges in this run."""
        return self.totals().spent

    def remaining(self) -> Decimal | None:
        """USD left for new reservations (limit - committed - reserved - uncertain), or None without a budget."""
        return None if self.limit is None else self.limit - self.totals().used

    def summary(self) -> BudgetStatus:
        """The run's budget at a glance, with its leases (reads the store)."""
        t = self.totals()
        left = None if self.limit is None else self.limit - t.used
        leases = self._store.leases(self.run_id)
        return BudgetStatus(self.run_id, self.limit, t.committed, t.reserved, t.uncertain, left,
                            leased=self._budget.lease_free(),
                            open_leases=sum(1 for lease in leases if lease.state == "open"),
                            stale_leases=sum(1 for lease in leases if lease.state == "stale"),
                            stale=sum((lease.stale_charge for lease in leases), Decimal(0)))

    def rows(self, *, run_id: str | None = None, since: datetime | None = None,
             until: datetime | None = None) -> list[LedgerRow]:
        """Rows of the store (every run unless ``run_id``), ordered by time, after a flush; for reports."""
        self._budget.writer.flush()
        return self._store.rows(run_id=run_id, since=since, until=until)

    def leases(self, *, run_id: str | None = None) -> list[LeaseRow]:
        """Leases of the store (every run unless ``run_id``), oldest first; for reports."""
        return self._store.leases(run_id)

    def reconcile(self) -> list[LeaseRow]:
        """Settle every expired lease in the store now (their held amount becomes an uncertain charge)."""
        return self._budget.reconcile()

    def flush(self) -> None:
        """Write this client's queued history rows now (the writer does it every 100 ms anyway)."""
        self._budget.writer.flush()

    def close(self) -> None:
        """Flush the writer, return the unused rest of this client's lease to the run, and close the store.

        Calls still in flight keep their hold in the lease, which is settled as stale once it expires.
        """
        self._budget.close()
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_admission(self, estimate: Estimate) -> None:
        """Refuse every new call once usage has overrun a reservation in this run (budgets only)."""
        halted = self.halted
        if halted is None or self.limit is None:
            return
        t = self.totals()
        raise BudgetExceededError(estimate=estimate.cost or Decimal(0), spent=t.spent, reserved=t.reserved,
                                  limit=self.limit, run_id=self.run_id, message=halt_message(halted))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _new_id(self) -> str:
        """A unique id, cheaply: this ledger's random 64-bit prefix and a counter (uuid4 costs ~6 µs a call)."""
        return f"{self._id_prefix}{next(self._ids):08x}"

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

