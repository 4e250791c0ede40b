"""A client's metrics as plain Python values: :class:`MetricsSnapshot`, and the exact percentile it reports.

Prometheus histograms only keep buckets, so for exact p50/p95/p99 the metrics also keep a bounded reservoir (a
deque) of the most recent latencies. Percentiles use the nearest-rank method: the value at position
``ceil(p/100 * n)`` of the sorted list. Every attempt counts as a request (a retry is a real request), so
``success_rate`` is ok attempts / all attempts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import attrs

__all__ = ["MetricsSnapshot", "nearest_rank"]


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of an ascending sequence, ``None`` when it is empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@attrs.frozen
class MetricsSnapshot:
    """The client's numbers as plain Python values, taken at one instant.

    Latencies are seconds (``None`` before any attempt reported one); ``success_rate`` is
    ``None`` before any attempt; ``requests_per_s`` is attempts over the client's lifetime.
    """

    requests: int
    requests_by_outcome: dict[str, int]
    success_rate: float | None
    retries: int
    retries_by_reason: dict[str, int]
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_p99_s: float | None
    requests_per_s: float
    uptime_s: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    rate_limit_waits: int
    rate_limit_wait_s: float
    queue_depth: int
    responses_429: int
    breaker_transitions: int
    breaker_states: dict[str, str]
    budget_remaining_usd: Decimal | None
