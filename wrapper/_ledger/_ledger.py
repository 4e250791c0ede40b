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
Settling: :mod:`wrapper._ledger._settle`; the read side (totals, summary, rows, leases, reconcile):
:mod:`wrapper._ledger._status`; alerts: :mod:`wrapper._ledger._alerts`.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from .._errors import BudgetExceededError, ConfigError
from .._observe._events import BudgetBoundExceeded, EventHook
from .._observe._log import get_logger
from .._settings import Settings
from ._alerts import THRESHOLDS, BudgetAlerts, halt_message
from ._bounds import Bounds
from ._budget import Budget
from ._estimator import Estimate, Estimator
from ._lease import LeasePolicy
from ._pricing import Price, PriceTable, default_price_cache_path
from ._settle import Reservation, Settling
from ._status import Reading
from ._store import Store, open_store
from ._writer import FLUSH_INTERVAL_S

__all__ = ["Ledger"]

log = get_logger("ledger")


class Ledger(Settling, Reading):
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

    def _new_id(self) -> str:
        """A unique id, cheaply: this ledger's random 64-bit prefix and a counter (uuid4 costs ~6 µs a call)."""
        return f"{self._id_prefix}{next(self._ids):08x}"
