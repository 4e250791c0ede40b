"""One client's policies wired together: retry, limiter, breakers, ledger, metrics, logs, events.

A :class:`Runtime` is built once per client and shared by every call (and by
clients made with ``with_options``). It is the only place that knows how an
attempt's outcome feeds each policy; :mod:`wrapper._pipeline._call` asks it, the shells
never do.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import APIError, APIStatusError, BudgetExceededError, ConfirmationRequiredError
from .._ledger._ledger import Estimate, Ledger, Reservation
from .._ledger._pricing import default_price_cache_path
from .._observe._events import BreakerStateChanged, Event, EventHook, RetryScheduled
from .._observe._log import get_logger, log_attempt, log_event
from .._observe._metrics import ClientMetrics
from .._policies._breaker import BreakerBoard
from .._policies._limiter import RateLimiter
from .._policies._retry import RetryPolicy
from .._settings import Settings
from .._types import ModelInfo, Pricing

if TYPE_CHECKING:
    from ._call import Call

__all__ = ["Runtime"]

log = get_logger("client")


class Runtime:
    """The policies of one client, and how each attempt's outcome reaches them."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_event: EventHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        limiter_sleep: Callable[[float], None] = time.sleep,
        run_id: str | None = None,
        confirm: Callable[[Decimal, str], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.wall = wall
        self.rng = rng if rng is not None else random.Random()
        self._hook = on_event
        self._confirm = confirm
        self.run_id = run_id or settings.run_id or f"run-{uuid.uuid4().hex[:12]}"
        self.metrics = ClientMetrics(clock=clock)
        self.retry_policy = RetryPolicy.from_settings(settings)
        self.breakers = BreakerBoard.from_settings(settings, clock=clock, on_transition=self._breaker_moved)
        self.limiter: RateLimiter | None = None
        if settings.rate_limit_rpm is not None or settings.rate_limit_tpm is not None:
            self.limiter = RateLimiter.from_settings(settings, clock=clock, sleep=limiter_sleep, on_event=self.emit)
        self.ledger = Ledger.from_settings(settings, run_id=self.run_id, on_event=self.emit)
        self.budgeted = settings.max_estimated_cost is not None
        if self.budgeted:
            self.metrics.track_budget(self.ledger.remaining)
        self.default_timeout = self.timeout()

    def derive(self, settings: Settings) -> Runtime:
        """A runtime with new per-call settings (retries, timeouts) sharing this one's limiter, breakers,
        ledger, metrics and hook."""
        clone = object.__new__(Runtime)
        clone.__dict__.update(self.__dict__)
        clone.settings = settings
        clone.retry_policy = RetryPolicy.from_settings(settings)
        clone.default_timeout = clone.timeout()
        return clone

    # ---------------------------------------------------------------- events
    def emit(self, event: Event) -> None:
        """Deliver an event to the user's hook (or log it at WARNING); a failing hook is logged, not raised."""
        if self._hook is None:
            log_event(event)
            return
        try:
            self._hook(event)
        except Exception as exc:
            log.opt(exception=exc).error("on_event hook raised {}", type(exc).__name__)

    def _breaker_moved(self, model: str, old: str, new: str, failures: int) -> None:
        self.metrics.observe_breaker(model, new)
        log.bind(model=model, old=old, new=new, failures=failures).warning("breaker {} -> {}", old, new)
        self.emit(BreakerStateChanged(at=self.wall(), model=model, old=old, new=new, failures=failures))

    # ---------------------------------------------------------------- budget
    def estimate(self, model: str, messages: Sequence[Mapping[str, Any]], max_tokens: int | None,
                 tools: object = None, *, response_format: object = None, n: int | None = None) -> Estimate:
        """The call's estimate: its provable worst case (reserved) and its expected cost."""
        return self.ledger.estimate(model, messages, max_tokens, tools=tools, response_format=response_format, n=n)

    def admit(self, estimate: Estimate) -> Reservation:
        """A new call's gate before any I/O: confirmation above CONFIRM_ABOVE_COST, then the budget reservation.

        Raises:
            ConfirmationRequiredError: above the threshold with no ``confirm`` callback, or the callback said no.
            BudgetExceededError: the estimate does not fit in what is left of the budget.
        """
        threshold = self.settings.confirm_above_cost
        if threshold is not None and estimate.cost is not None and estimate.cost > threshold:
            if self._confirm is None:
                raise ConfirmationRequiredError(
                    f"this call's estimated cost ${estimate.cost} is above CONFIRM_ABOVE_COST=${threshold} and "
                    "nobody can confirm it: pass confirm=callable(cost, model) -> bool to the client (the CLI "
                    "asks, or takes --yes), or raise CONFIRM_ABOVE_COST", estimate=estimate.cost, threshold=threshold)
            if not self._confirm(estimate.cost, estimate.model):
                raise ConfirmationRequiredError(
                    f"the call's estimated cost ${estimate.cost} was not confirmed", estimate=estimate.cost,
                    threshold=threshold)
        return self.reserve(estimate)

    def refresh_prices(self, models: Sequence[ModelInfo], *, save: bool = True) -> int:
        """Take per-token prices from ``GET /models`` into the ledger's table (and its cache file).

        Returns:
            How many models now have a price from the refresh.
        """
        entries = [(m.id, m.pricing.input_, m.pricing.output) for m in models if isinstance(m.pricing, Pricing)]
        self.ledger.prices = self.ledger.prices.updated(entries, fetched_at=datetime.now(UTC))
        if save:
            self.ledger.prices.save(default_price_cache_path())
        return sum(1 for model_id, _, _ in entries if self.ledger.prices.get(model_id) is not None)

    def reserve(self, estimate: Estimate) -> Reservation:
        """Reserve the estimate against the budget before any I/O (raises BudgetExceededError)."""
        try:
            return self.ledger.reserve(estimate)
        except BudgetExceededError as exc:
            log.bind(model=estimate.model, estimate=str(exc.estimate), limit=str(exc.limit)).warning(
                "budget refused the call"
            )
            raise

    def ledger_ok(self, call: Call, prompt: int | None, completion: int | None, latency: float,
                  status: int) -> Decimal | None:
        """Commit the actual cost of a successful attempt; returns it (None when the price is unknown)."""
        return self.ledger.settle_ok(call.reservation, usage_prompt=prompt, usage_completion=completion,
                                     request_id=call.request_id, latency_s=latency, attempt=call.attempts,
                                     status=status)

    def ledger_error(self, call: Call, error: APIError, latency: float, *, final: bool) -> None:
        """Record a definite failure; the final one releases the reservation."""
        status = error.status_code if isinstance(error, APIStatusError) else None
        error_type = error.type if isinstance(error, APIStatusError) and error.type else type(error).__name__
        if final:
            self.ledger.settle_error(call.reservation, request_id=error.request_id, latency_s=latency,
                                     attempt=call.attempts, status=status, error_type=error_type)
        else:
            self.ledger.record_attempt(call.reservation, request_id=error.request_id, latency_s=latency,
                                       attempt=call.attempts, status=status, error_type=error_type)

    def ledger_uncertain(self, call: Call, error: APIError, latency: float) -> None:
        """Keep the estimate of an attempt that may have been billed as an uncertain charge."""
        self.ledger.settle_uncertain(call.reservation, request_id=error.request_id, latency_s=latency,
                                     attempt=call.attempts, reason=type(error).__name__)

    def ledger_abort(self, call: Call, exc: BaseException) -> None:
        """Release an open reservation of a call that ended outside the HTTP exchange."""
        if not call.reservation.settled:
            self.ledger.settle_error(call.reservation, request_id=call.request_id, latency_s=0.0,
                                     attempt=call.attempts, status=None, error_type=type(exc).__name__)

    # ---------------------------------------------------------------- attempts
    def observe_headers(self, status: int, headers: Mapping[str, str]) -> None:
        """Feed Together's rate-limit headers to the adaptive limiter."""
        if self.limiter is not None and status != 429:
            self.limiter.observe(status, headers, None)

    def limiter_observe(self, status: int, headers: Mapping[str, str], error_type: str | None) -> None:
        """A 429 reached us: tell the limiter (slow down) and count it."""
        self.metrics.observe_429()
        if self.limiter is not None:
            self.limiter.observe(status, headers, error_type)

    def after_attempt(self, call: Call, outcome: str, latency: float, prompt: int | None,
                      completion: int | None, cost: Decimal | None, status: int | None) -> None:
        """One metrics sample and one structured log record per attempt."""
        self.metrics.observe_attempt(call.model, outcome, latency, prompt, completion, cost)
        log_attempt(log, request_id=call.request_id, model=call.model, status=status, latency_s=latency,
                    attempt=call.attempts, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost,
                    outcome=outcome)

    def retry_scheduled(self, call: Call, wait: float, reason: str) -> None:
        """Log, count and announce a retry."""
        self.metrics.observe_retry(call.model, reason)
        log.bind(model=call.model, attempt=call.attempts, wait_s=round(wait, 3), reason=reason,
                 request_id=call.request_id).info("retry scheduled in {:.2f}s ({})", wait, reason)
        self.emit(RetryScheduled(at=self.wall(), model=call.model, attempt=call.attempts, wait=wait, reason=reason,
                                 request_id=call.request_id))

    def timeout(self, total: float | None = None) -> httpx.Timeout:
        """The per-attempt timeout: ``total`` seconds (default TOGETHER_TIMEOUT), connect capped by its setting."""
        total = self.settings.timeout if total is None else total
        return httpx.Timeout(total, connect=min(self.settings.connect_timeout, total))

    def close(self) -> None:
        """Stop the limiter's thread and close the ledger store."""
        if self.limiter is not None:
            self.limiter.close()
        self.ledger.close()
        self.metrics.close()
