"""Per-client Prometheus metrics plus exact plain-Python snapshots of the same numbers.

Each :class:`ClientMetrics` owns its own ``CollectorRegistry``, so two clients in one
process never collide and nothing lands in prometheus-client's global registry.
Label values are checked and bounded by :mod:`._labels`; the snapshot and its exact
percentiles (from a bounded reservoir of recent latencies) are in :mod:`._snapshot`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from ._labels import Labels
from ._snapshot import MetricsSnapshot, nearest_rank

__all__ = ["BREAKER_STATES", "ClientMetrics"]

BREAKER_STATES = {"closed": 0, "open": 1, "half_open": 2}
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, math.inf)


class ClientMetrics:
    """Prometheus counters, gauges and a latency histogram for one client, in its own registry.

    Args:
        clock: monotonic seconds, injected for tests; used only for ``requests_per_s``.
        reservoir_size: how many recent latencies are kept for exact percentiles.
        namespace: metric name prefix (``together_requests_total`` ...).
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, reservoir_size: int = 10_000, namespace: str = "together"
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=reservoir_size)
        self._outcomes: Tally[str] = Tally()
        self._reasons: Tally[str] = Tally()
        self._tokens = {"in": 0, "out": 0}
        self._cost = Decimal(0)
        self._waits, self._wait_s, self._depth, self._n429, self._transitions = 0, 0.0, 0, 0, 0
        self._breakers: dict[str, str] = {}
        self._budget: Decimal | None = None
        self._budget_source: Callable[[], Decimal | None] | None = None
        self._queue_source: Callable[[], int] | None = None
        # Labels are checked (redaction regexes) once per distinct raw value, and the labelled children looked up
        # once per (model, outcome): both were most of the per-call cost of metrics.
        self._labels = Labels()
        self._children: dict[tuple[str, str], tuple[Any, Any, Any, Any, Any]] = {}
        self._servers: list[WSGIServer] = []
        self._build(namespace)

    def _build(self, ns: str) -> None:
        reg = self.registry
        self._m_requests = Counter("requests", "Attempts by outcome", ["outcome", "model"], namespace=ns, registry=reg)
        self._m_retries = Counter("retries", "Retries scheduled", ["model", "reason"], namespace=ns, registry=reg)
        self._m_tokens = Counter("tokens", "Tokens by direction (in/out)", ["direction", "model"], namespace=ns,
                                 registry=reg)
        self._m_cost = Counter("cost_usd", "Charged cost in US dollars", ["model"], namespace=ns, registry=reg)
        self._m_waits = Counter("rate_limit_waits", "Waits in our own rate-limit queue", namespace=ns, registry=reg)
        self._m_wait_s = Counter("rate_limit_wait_seconds", "Seconds waited in our own rate-limit queue",
                                 namespace=ns, registry=reg)
        self._m_429 = Counter("responses_429", "429 responses from the API", namespace=ns, registry=reg)
        self._m_trans = Counter("breaker_transitions", "Circuit breaker transitions", ["model", "to"], namespace=ns,
                                registry=reg)
        self._m_depth = Gauge("rate_limit_queue_depth", "Calls waiting in our rate-limit queue", namespace=ns,
                              registry=reg)
        self._m_state = Gauge("breaker_state", "Breaker state: 0 closed, 1 open, 2 half_open", ["model"],
                              namespace=ns, registry=reg)
        self._m_budget = Gauge("budget_remaining_usd", "Budget left in US dollars (NaN: no budget)", namespace=ns,
                               registry=reg)
        self._m_budget.set(math.nan)
        self._m_latency = Histogram("request_latency_seconds", "Attempt latency in seconds", ["model"],
                                    buckets=LATENCY_BUCKETS, namespace=ns, registry=reg)

    def _attempt_children(self, model: str, outcome: str) -> tuple[Any, Any, Any, Any, Any]:
        children = self._children.get((model, outcome))
        if children is None:
            children = (self._m_requests.labels(outcome=outcome, model=model),
                        self._m_tokens.labels(direction="in", model=model),
                        self._m_tokens.labels(direction="out", model=model),
                        self._m_cost.labels(model=model), self._m_latency.labels(model=model))
            self._children[(model, outcome)] = children
        return children

    # -- what the core calls ---------------------------------------------------------------------

    def observe_attempt(
        self,
        model: str,
        outcome: str,
        latency_s: float | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cost: Decimal | None,
    ) -> None:
        """Record one finished attempt: its outcome, latency, tokens and charged cost."""
        labels = self._labels
        model, outcome = labels.model(model), labels.word("outcome", outcome)
        requests, tokens_in_c, tokens_out_c, cost_c, latency_c = self._attempt_children(model, outcome)
        requests.inc()
        tokens_in, tokens_out = max(prompt_tokens or 0, 0), max(completion_tokens or 0, 0)
        if tokens_in:
            tokens_in_c.inc(tokens_in)
        if tokens_out:
            tokens_out_c.inc(tokens_out)
        if cost is not None and cost > 0:
            cost_c.inc(float(cost))
        if latency_s is not None:
            latency_c.observe(latency_s)
        with self._lock:
            self._outcomes[outcome] += 1
            self._tokens["in"] += tokens_in
            self._tokens["out"] += tokens_out
            if cost is not None and cost > 0:
                self._cost += cost
            if latency_s is not None:
                self._latencies.append(latency_s)

    def observe_retry(self, model: str, reason: str) -> None:
        """Record a retry scheduled for ``model`` because of ``reason`` (e.g. ``"503"``, ``"read timeout"``)."""
        reason = self._labels.word("reason", reason)
        self._m_retries.labels(model=self._labels.model(model), reason=reason).inc()
        with self._lock:
            self._reasons[reason] += 1

    def observe_wait(self, seconds: float) -> None:
        """Record one wait of ``seconds`` in our own rate-limit queue."""
        self._m_waits.inc()
        self._m_wait_s.inc(max(seconds, 0.0))
        with self._lock:
            self._waits += 1
            self._wait_s += max(seconds, 0.0)

    def set_queue_depth(self, n: int) -> None:
        """Set how many calls wait in our rate-limit queue right now."""
        self._m_depth.set(n)
        with self._lock:
            self._depth = n

    def observe_429(self) -> None:
        """Record one 429 response from the API."""
        self._m_429.inc()
        with self._lock:
            self._n429 += 1

    def observe_breaker(self, model: str, new_state: str) -> None:
        """Record a breaker transition of ``model`` to ``closed``, ``open`` or ``half_open``.

        Raises:
            ValueError: ``new_state`` is not one of the three states.
        """
        if new_state not in BREAKER_STATES:
            raise ValueError(f"unknown breaker state {new_state!r}")
        model = self._labels.model(model)
        self._m_trans.labels(model=model, to=new_state).inc()
        self._m_state.labels(model=model).set(BREAKER_STATES[new_state])
        with self._lock:
            self._transitions += 1
            self._breakers[model] = new_state

    def set_budget_remaining(self, remaining: Decimal | None) -> None:
        """Set the budget left in dollars; ``None`` means no budget (exported as NaN)."""
        self._m_budget.set(math.nan if remaining is None else float(remaining))
        with self._lock:
            self._budget = remaining

    def track_queue(self, depth: Callable[[], int]) -> None:
        """Read the rate-limit queue depth from ``depth`` whenever the gauge is scraped or a snapshot is taken."""
        self._queue_source = depth
        self._m_depth.set_function(lambda: float(depth()))

    def track_budget(self, remaining: Callable[[], Decimal | None]) -> None:
        """Read the budget left from ``remaining`` whenever it is scraped or snapshotted, instead of per call.

        The ledger's totals live in its store (shared with other processes), so reading them on demand is both
        cheaper than after every call and more current.
        """
        self._budget_source = remaining

        def gauge() -> float:
            value = remaining()
            return math.nan if value is None else float(value)

        self._m_budget.set_function(gauge)

    # -- reading -----------------------------------------------------------------------------------

    def snapshot(self) -> MetricsSnapshot:
        """Return every number as plain Python values (exact percentiles from the reservoir)."""
        budget = self._budget if self._budget_source is None else self._budget_source()  # store I/O: not locked
        with self._lock:
            latencies = sorted(self._latencies)
            outcomes, reasons = dict(self._outcomes), dict(self._reasons)
            uptime = max(self._clock() - self._started, 0.0)
            total = sum(outcomes.values())
            return MetricsSnapshot(
                requests=total, requests_by_outcome=outcomes,
                success_rate=outcomes.get("ok", 0) / total if total else None,
                retries=sum(reasons.values()), retries_by_reason=reasons,
                latency_p50_s=nearest_rank(latencies, 50), latency_p95_s=nearest_rank(latencies, 95),
                latency_p99_s=nearest_rank(latencies, 99),
                requests_per_s=total / uptime if uptime > 0 else 0.0, uptime_s=uptime,
                prompt_tokens=self._tokens["in"], completion_tokens=self._tokens["out"], cost_usd=self._cost,
                rate_limit_waits=self._waits, rate_limit_wait_s=self._wait_s,
                queue_depth=self._depth if self._queue_source is None else self._queue_source(),
                responses_429=self._n429, breaker_transitions=self._transitions,
                breaker_states=dict(self._breakers), budget_remaining_usd=budget,
            )

    def exposition(self) -> bytes:
        """Return this client's metrics in the Prometheus text format (for a file or a scrape)."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve this registry over HTTP for scraping, on a daemon thread; ``port=0`` picks a free port.

        Returns:
            The port actually bound. :meth:`close` stops every server started here.
        """
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._servers.append(server)
        return int(server.server_port)

    def close(self) -> None:
        """Stop the HTTP servers started by :meth:`serve`; idempotent."""
        while self._servers:
            server = self._servers.pop()
            server.shutdown()
            server.server_close()
