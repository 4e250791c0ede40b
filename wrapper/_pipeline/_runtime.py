"""One client's policies wired together, and the actions the decorator stack takes on the core's verdicts.

A :class:`Runtime` is built once per client and shared by every call (and by clients made with ``with_options``).
The pure core (:mod:`._call`) judges; the stack (``_async/_stack.py`` and its generated sync twin) calls the
methods here to act: metrics, the structured log record, events to the user's hook, the limiter's hints, and the
ledger. Events and the per-attempt reports live in the base class :class:`~._reporting.Reporting`; this module
holds the client's construction, the budget, the uncertain charge, the call's end and the ends of streams.
Every method is cheap and in memory, except those named as doing I/O (lease-taking reservations, the uncertain
charge, totals), which the async shell runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._errors import APIError, APIStatusError, BudgetExceededError, ConfirmationRequiredError
from .._ledger import Estimate, Ledger, Reservation
from .._ledger._pricing import default_price_cache_path
from .._observe._events import EventHook
from .._observe._log import get_logger, log_attempt
from .._observe._metrics import ClientMetrics
from .._policies._breaker_board import BreakerBoard
from .._policies._limiter import RateLimiter
from .._policies._retry import RetryPolicy, WaitEnv
from .._settings import Settings
from .._types import ModelInfo, Pricing
from ._call import usage_tokens
from ._fallback import ChainState
from ._reporting import Reporting

if TYPE_CHECKING:
    from ._call import Call

__all__ = ["Runtime"]

log = get_logger("client")


class Runtime(Reporting):
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
        self.limiter = None
        if settings.rate_limit_rpm is not None or settings.rate_limit_tpm is not None:
            self.limiter = RateLimiter.from_settings(settings, clock=clock, sleep=limiter_sleep, on_event=self.emit,
                                                     asleep=limiter_asleep)
            limiter = self.limiter
            self.metrics.track_queue(lambda: limiter.stats().queue_depth)
        self.ledger = Ledger.from_settings(settings, run_id=self.run_id, on_event=self.emit)
        self._429s = deque()  # (clock, error type) of recent 429s, for the storm alert
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

    # ---------------------------------------------------------------- the ledger after an uncertain attempt (I/O)
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
            self._sample_ok(call, usage)
            self.call_ok(call)
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
