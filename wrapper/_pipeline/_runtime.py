"""One client's policies wired together, and the actions the decorator stack takes on the core's verdicts.

A :class:`Runtime` is built once per client and shared by every call (and by clients made with ``with_options``).
The pure core (:mod:`._call`) judges; the stack (``_async/_stack.py`` and its generated sync twin) calls the
methods here to act: metrics, the structured log record, events to the user's hook, the limiter's hints, and the
ledger. Every method here is cheap and in memory, except those named as doing I/O (lease-taking reservations,
the uncertain charge, totals), which the async shell runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._errors import APIError, APIStatusError, BudgetExceededError, ConfirmationRequiredError, CreditLimitError
from .._ledger import Estimate, Ledger, Reservation
from .._ledger._pricing import default_price_cache_path
from .._observe._events import (
    BreakerStateChanged,
    CallFailed,
    Event,
    EventHook,
    ModelFallback,
    RateLimited,
    RateLimitStorm,
    RetryScheduled,
)
from .._observe._log import get_logger, log_attempt, log_event
from .._observe._metrics import ClientMetrics
from .._policies._breaker import BreakerBoard
from .._policies._limiter import RateLimiter
from .._policies._retry import RetryPolicy, WaitEnv, describe
from .._settings import Settings
from .._types import ModelInfo, Pricing
from ._call import is_uncertain, usage_tokens
from ._fallback import ChainState, Reason

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
        limiter_asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        self.wait_env = WaitEnv(clock, self.rng)
        self.chain = ChainState()  # models found not served, breakers' open periods: the fallback chain's memory
        self.breakers = BreakerBoard.from_settings(settings, clock=clock, on_transition=self._breaker_moved)
        self.limiter: RateLimiter | None = None
        if settings.rate_limit_rpm is not None or settings.rate_limit_tpm is not None:
            self.limiter = RateLimiter.from_settings(settings, clock=clock, sleep=limiter_sleep, on_event=self.emit,
                                                     asleep=limiter_asleep)
            limiter = self.limiter
            self.metrics.track_queue(lambda: limiter.stats().queue_depth)
        self.ledger = Ledger.from_settings(settings, run_id=self.run_id, on_event=self.emit)
        self._429s: deque[tuple[float, str]] = deque()  # (clock, error type) of recent 429s, for the storm alert
        self._storm_at: float | None = None
        self._storm_lock = threading.Lock()
        self.budgeted = settings.max_estimated_cost is not None
        if self.budgeted:
            self.metrics.track_budget(self.ledger.remaining)

    def derive(self, settings: Settings) -> Runtime:
        """A runtime with new per-call settings (retries, timeouts) sharing this one's limiter, breakers,
        ledger, metrics and hook."""
        clone = object.__new__(Runtime)
        clone.__dict__.update(self.__dict__)
        clone.settings = settings
        clone.retry_policy = RetryPolicy.from_settings(settings)
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
        self.chain.breaker_moved(model, new, self.clock())
        self.emit(BreakerStateChanged(at=self.wall(), model=model, old=old, new=new, failures=failures))

    def fell_back(self, model: str, fallback: str, reason: Reason, request_id: str | None = None) -> None:
        """The fallback chain moved from ``model`` to ``fallback``: one log line and a ModelFallback event."""
        log.bind(model=model, fallback=fallback, reason=reason, request_id=request_id).warning(
            "model {} -> fallback {} ({})", model, fallback, reason)
        self.emit(ModelFallback(at=self.wall(), model=model, fallback=fallback, reason=reason, request_id=request_id))

    # ---------------------------------------------------------------- budget (before any I/O)
    def estimate(self, model: str, messages: Sequence[Mapping[str, Any]], max_tokens: int | None,
                 tools: object = None, *, response_format: object = None, n: int | None = None) -> Estimate:
        """The call's estimate: its provable worst case (reserved) and its expected cost."""
        return self.ledger.estimate(model, messages, max_tokens, tools=tools, response_format=response_format, n=n)

    def confirm(self, estimate: Estimate) -> None:
        """Above ``CONFIRM_ABOVE_COST`` a call needs the client's ``confirm`` callback to say yes.

        Raises:
            ConfirmationRequiredError: no callback, or it said no.
        """
        threshold = self.settings.confirm_above_cost
        if threshold is None or estimate.cost is None or estimate.cost <= threshold:
            return
        if self._confirm is None:
            raise ConfirmationRequiredError(
                f"this call's estimated cost ${estimate.cost} is above CONFIRM_ABOVE_COST=${threshold} and "
                "nobody can confirm it: pass confirm=callable(cost, model) -> bool to the client (the CLI "
                "asks, or takes --yes), or raise CONFIRM_ABOVE_COST", estimate=estimate.cost, threshold=threshold)
        if not self._confirm(estimate.cost, estimate.model):
            raise ConfirmationRequiredError(
                f"the call's estimated cost ${estimate.cost} was not confirmed", estimate=estimate.cost,
                threshold=threshold)

    def try_reserve(self, estimate: Estimate) -> Reservation | None:
        """Reserve from this client's budget lease in memory; None when a new lease (I/O) is needed."""
        quick = getattr(self.ledger, "try_reserve", None)
        return quick(estimate) if quick is not None else None

    def reserve(self, estimate: Estimate) -> Reservation:
        """Reserve the worst case against the budget; may take a lease from the shared store (I/O).

        Raises:
            BudgetExceededError: it does not fit in what is left.
        """
        try:
            return self.ledger.reserve(estimate)
        except BudgetExceededError as exc:
            log.bind(model=estimate.model, estimate=str(exc.estimate), limit=str(exc.limit)).warning(
                "budget refused the call")
            raise

    def refresh_prices(self, models: Sequence[ModelInfo], *, save: bool = True) -> int:
        """Take per-token prices from ``GET /models`` into the ledger's table (and its cache file; I/O).

        Returns:
            How many models now have a price from the refresh.
        """
        entries = [(m.id, m.pricing.input_, m.pricing.output) for m in models if isinstance(m.pricing, Pricing)]
        self.ledger.prices = self.ledger.prices.updated(entries, fetched_at=datetime.now(UTC))
        if save:
            self.ledger.prices.save(default_price_cache_path())
        return sum(1 for model_id, _, _ in entries if self.ledger.prices.get(model_id) is not None)

    # ---------------------------------------------------------------- attempts (in memory)
    def waited(self, seconds: float) -> None:
        """The limiter made the attempt wait."""
        if seconds > 0:
            self.metrics.observe_wait(seconds)

    def attempt_ok(self, call: Call, headers: Mapping[str, str], usage: object) -> None:
        """An attempt succeeded: feed the limiter's hints, one metrics sample, one log record."""
        call.usage = usage
        if self.limiter is not None:
            self.limiter.observe(call.status or 200, headers, None)
        if call.estimate is None or call.stream:  # a stream is sampled when it ends (stream_ended)
            return
        self._sample_ok(call, usage)

    def _sample_ok(self, call: Call, usage: object) -> Decimal | None:
        prompt, completion = usage_tokens(usage)
        latency = self.clock() - call.started
        price = self.ledger.price_of(call.estimate.model) if call.estimate is not None else None
        cost = price.cost(prompt, completion) if price is not None and prompt is not None \
            and completion is not None else None
        self.metrics.observe_attempt(call.key, "ok", latency, prompt, completion, cost)
        log_attempt(log, request_id=call.request_id, model=call.key, status=call.status, latency_s=latency,
                    attempt=call.attempts, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost,
                    outcome="ok")
        return cost

    def attempt_failed(self, call: Call, error: APIError, headers: Mapping[str, str] | None = None) -> bool:
        """An attempt failed: metrics, log, the limiter's hints, a RateLimited event, the ledger's attempt row.

        Returns:
            Whether the attempt may have been billed (uncertain): the caller then charges it (I/O may follow).
        """
        error.attempts = call.attempts
        error.request_id = error.request_id or call.request_id
        status = error.status_code if isinstance(error, APIStatusError) else None
        if self.limiter is not None and headers is not None:
            self.limiter.observe(status or 0, headers, error.type if isinstance(error, APIStatusError) else None)
        if status == 429 and not isinstance(error, CreditLimitError):  # out of credit is billing, not our rate
            self.metrics.observe_429()
            assert isinstance(error, APIStatusError)
            self.emit(RateLimited(at=self.wall(), model=call.key, type=error.type, request_id=error.request_id,
                                  retry_after=error.retry_after))
            self._storm(error.type)
        uncertain = is_uncertain(error)
        latency = self.clock() - call.started
        outcome = "uncertain" if uncertain else "error"
        self.metrics.observe_attempt(call.key, outcome, latency, None, None, None)
        log_attempt(log, request_id=call.request_id, model=call.key, status=status, latency_s=latency,
                    attempt=call.attempts, prompt_tokens=None, completion_tokens=None, cost_usd=None,
                    outcome=outcome)
        # A definite failure's ledger row is written when a retry is scheduled (retry_scheduled); the last one is
        # the call's own closing row (call_failed), so no attempt is recorded twice.
        return uncertain and call.reservation is not None

    def charge_uncertain(self, call: Call, error: APIError) -> bool:
        """Charge an attempt that may have been billed (its worst case); may take a lease (I/O).

        Returns:
            Whether the budget still covers another attempt; if not, the retry loop must give up (with the
            original error: a call whose first attempt was sent never fails with BudgetExceededError).
        """
        assert call.reservation is not None
        latency = self.clock() - call.started
        status = error.status_code if isinstance(error, APIStatusError) else None
        within = self.ledger.charge_uncertain_attempt(call.reservation, request_id=error.request_id,
                                                      latency_s=latency, attempt=call.attempts,
                                                      reason=type(error).__name__, status=status)
        if not within:
            error.should_retry = False
            error.budget_stop = True  # type: ignore[attr-defined]
        return within

    def retry_scheduled(self, call: Call, error: BaseException, wait: float) -> None:
        """backoff's ``on_backoff``: record the failed attempt in the ledger (a definite failure: no charge; an
        uncertain one was charged already), then log, count and announce the retry."""
        if call.reservation is not None and not is_uncertain(error):
            status = error.status_code if isinstance(error, APIStatusError) else None
            error_type = error.type if isinstance(error, APIStatusError) and error.type else type(error).__name__
            self.ledger.record_attempt(call.reservation, request_id=getattr(error, "request_id", None),
                                       latency_s=self.clock() - call.started, attempt=call.attempts, status=status,
                                       error_type=error_type)
        reason = describe(error)
        self.metrics.observe_retry(call.key, reason)
        log.bind(model=call.key, attempt=call.attempts, wait_s=round(wait, 3), reason=reason,
                 request_id=call.request_id).info("retry scheduled in {:.2f}s ({})", wait, reason)
        self.emit(RetryScheduled(at=self.wall(), model=call.key, attempt=call.attempts, wait=wait, reason=reason,
                                 request_id=call.request_id))

    def gave_up(self, call: Call, error: BaseException) -> None:
        """backoff's ``on_giveup``: the call fails for good with ``error`` after ``call.attempts`` attempts."""
        reason = describe(error)
        log.bind(model=call.key, attempts=call.attempts, reason=reason,
                 request_id=call.request_id).warning("call failed after {} attempt(s): {}", call.attempts, reason)
        status = error.status_code if isinstance(error, APIStatusError) else None
        kind = error.type if isinstance(error, APIStatusError) else None
        self.emit(CallFailed(at=self.wall(), model=call.key, attempts=call.attempts, error=type(error).__name__,
                             status=status, type=kind, reason=reason, request_id=call.request_id))

    def _storm(self, error_type: str | None) -> None:
        """Count a 429; at ``TOGETHER_STORM_429S`` within ``TOGETHER_STORM_WINDOW`` emit one RateLimitStorm."""
        now, window = self.clock(), self.settings.storm_window
        with self._storm_lock:
            seen = self._429s
            seen.append((now, error_type or "none"))
            while seen and now - seen[0][0] > window:
                seen.popleft()
            fire = len(seen) >= self.settings.storm_429s and (self._storm_at is None or now - self._storm_at > window)
            if fire:
                self._storm_at = now
                types = dict(Counter(kind for _, kind in seen))
                count = len(seen)
        if fire:
            log.bind(count=count, window_s=window).warning("rate-limit storm: {} 429s in {:g}s", count, window)
            self.emit(RateLimitStorm(at=self.wall(), count=count, window=window, types=types))

    # ---------------------------------------------------------------- the call's end (in memory, write-behind)
    def call_ok(self, call: Call) -> Decimal | None:
        """Commit the successful call's actual cost from its usage and release the rest of its reservation."""
        if call.reservation is None:
            return None
        prompt, completion = usage_tokens(call.usage)
        return self.ledger.settle_ok(call.reservation, usage_prompt=prompt, usage_completion=completion,
                                     request_id=call.request_id, latency_s=self.clock() - call.started,
                                     attempt=call.attempts, status=call.status or 200)

    def call_failed(self, call: Call, exc: BaseException) -> None:
        """Release the reservation of a call that failed for good (uncertain attempts were charged already)."""
        r = call.reservation
        if r is None or r.settled:
            return
        if call.usage is not None:  # Together reported usage although the call failed (a stream answered in JSON)
            self.call_ok(call)
            return
        status = exc.status_code if isinstance(exc, APIStatusError) else None
        error_type = exc.type if isinstance(exc, APIStatusError) and exc.type else type(exc).__name__
        self.ledger.settle_error(r, request_id=call.request_id, latency_s=self.clock() - call.started,
                                 attempt=call.attempts, status=status, error_type=error_type)

    # ---------------------------------------------------------------- streams, after their first event
    def stream_done(self, call: Call, usage: object) -> None:
        """The stream reached ``[DONE]`` (or its final usage chunk): a success, charged from ``usage``."""
        call.usage = usage
        self._sample_ok(call, usage)
        self.call_ok(call)

    def stream_cut(self, call: Call, error: APIError, usage: object, outcome: str) -> None:
        """A stream that ended early: charge its usage when the final chunk came, else keep the worst case as an
        uncertain charge (output may have been generated and billed)."""
        error.attempts = call.attempts
        error.request_id = error.request_id or call.request_id
        prompt, completion = usage_tokens(usage)
        latency = self.clock() - call.started
        if prompt is not None and completion is not None:
            call.usage = usage
            cost = self._sample_ok(call, usage)
            self.call_ok(call)
            del cost
            return
        if outcome == "error":
            outcome = "uncertain"
        self.metrics.observe_attempt(call.key, outcome, latency, None, None, None)
        log_attempt(log, request_id=call.request_id, model=call.key, status=call.status, latency_s=latency,
                    attempt=call.attempts, prompt_tokens=None, completion_tokens=None, cost_usd=None,
                    outcome=outcome)
        r = call.reservation
        if r is not None and not r.settled:
            self.ledger.settle_uncertain(r, request_id=call.request_id, latency_s=latency, attempt=call.attempts,
                                         reason=type(error).__name__)

    def close(self) -> None:
        """Stop the limiter and close the ledger store (flushing its writer): may do I/O."""
        if self.limiter is not None:
            self.limiter.close()
        self.ledger.close()
        self.metrics.close()
