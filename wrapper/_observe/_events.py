"""Typed events delivered to the user's ``on_event`` hook (alerts, dashboards, tests).

Each event is a small frozen attrs class; :data:`EventHook` is the hook's type.
Events never carry the API key or message contents.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

__all__ = [
    "BreakerStateChanged",
    "BudgetBoundExceeded",
    "BudgetThreshold",
    "CallFailed",
    "Event",
    "EventHook",
    "ModelFallback",
    "QueueDepthHigh",
    "RateLimitStorm",
    "RateLimited",
    "RetryScheduled",
    "UncertainCharge",
]


@attrs.frozen
class Event:
    """Base of every event; ``at`` is the wall-clock time (epoch seconds) it happened."""

    at: float


@attrs.frozen
class BreakerStateChanged(Event):
    """A model's circuit breaker moved between ``closed``, ``open`` and ``half_open``."""

    model: str
    old: str
    new: str
    failures: int


@attrs.frozen
class RateLimited(Event):
    """Together answered 429 (``type`` is its error type, e.g. ``dynamic_request_limited``)."""

    model: str
    type: str | None
    request_id: str | None
    retry_after: float | None


@attrs.frozen
class QueueDepthHigh(Event):
    """Our own rate-limit queue holds at least the configured number of waiting calls."""

    depth: int
    threshold: int


@attrs.frozen
class RetryScheduled(Event):
    """An attempt failed and another is scheduled after ``wait`` seconds."""

    model: str
    attempt: int
    wait: float
    reason: str
    request_id: str | None


@attrs.frozen
class BudgetThreshold(Event):
    """Spending (including reservations) crossed ``percent`` (50, 80 or 100) of the budget."""

    run_id: str
    percent: int
    spent: Decimal
    limit: Decimal


@attrs.frozen
class BudgetBoundExceeded(Event):
    """A call's reported usage cost more than its worst-case reservation: the bound did not hold.

    The budget's promise rests on that bound, so a ledger with a budget admits no new call in this run afterwards
    (each raises BudgetExceededError). ``*_tokens`` are as reported (None when missing), ``*_bound`` as reserved.
    """

    run_id: str
    model: str
    reserved: Decimal
    cost: Decimal
    prompt_tokens: int | None
    prompt_bound: int
    completion_tokens: int | None
    completion_bound: int
    request_id: str | None


@attrs.frozen
class UncertainCharge(Event):
    """An attempt may have been billed without an answer; its estimate was kept as a charge."""

    run_id: str
    model: str
    amount: Decimal
    request_id: str | None
    reason: str


@attrs.frozen
class RateLimitStorm(Event):
    """Together answered 429 at least ``count`` times within ``window`` seconds (one alert per storm, not per 429).

    Attributes:
        count: 429s seen in the window when the alert fired.
        window: the window in seconds (``TOGETHER_STORM_WINDOW``).
        types: how many of them had each error type (``dynamic_request_limited``, ...; ``None`` when untyped).
    """

    count: int
    window: float
    types: dict[str, int]


@attrs.frozen
class CallFailed(Event):
    """A call failed for good, after its retries (or at once, when the failure could not heal).

    Attributes:
        model: the model (or endpoint) of the call.
        attempts: attempts made.
        error: the exception class name; ``status``/``type`` Together's status and error type when it answered.
        reason: a short label of the last failure (``503``, ``read timeout``, ...).
    """

    model: str
    attempts: int
    error: str
    status: int | None
    type: str | None
    reason: str
    request_id: str | None


@attrs.frozen
class ModelFallback(Event):
    """A call moved down its fallback chain (``fallbacks=``, ``TOGETHER_MODEL_FALLBACKS``, ``--fallback``).

    Attributes:
        model: the model left behind.
        fallback: the model tried next.
        reason: ``model_not_available`` (Together answered so; the model is skipped for the rest of the
            client's life), ``not_listed`` (``GET /models`` does not list it) or ``breaker_open`` (its breaker
            stayed open longer than ``TOGETHER_BREAKER_PATIENCE``).
        request_id: Together's id of the answer that caused the switch, when there was one.
    """

    model: str
    fallback: str
    reason: str
    request_id: str | None


EventHook = Callable[[Event], None]
"""The type of the ``on_event`` hook: called synchronously, must not raise (errors are logged)."""
