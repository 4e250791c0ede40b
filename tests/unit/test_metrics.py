"""Per-client Prometheus metrics: values equal what happened, exact percentiles, safe labels, no collisions."""

from __future__ import annotations

import math
import random
import urllib.request
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY, generate_latest

from wrapper._observe._metrics import ClientMetrics
from wrapper._observe._snapshot import MetricsSnapshot, nearest_rank

PLANTED_KEY = "sk-test-PLANTED1234567890abcdef"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _value(m: ClientMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(f"together_{name}", labels)


def _scripted() -> tuple[ClientMetrics, FakeClock]:
    """Three successes, a 429 that is retried, a server error that is retried, waits and a breaker trip."""
    clock = FakeClock()
    m = ClientMetrics(clock=clock)
    m.observe_attempt("m/a", "ok", 0.2, 10, 5, Decimal("0.0010"))
    m.observe_wait(0.5)
    m.set_queue_depth(3)
    m.observe_attempt("m/a", "rate_limited", 0.1, None, None, None)
    m.observe_429()
    m.observe_retry("m/a", "rate_limited")
    m.observe_attempt("m/a", "ok", 0.4, 20, 7, Decimal("0.0020"))
    m.observe_attempt("m/b", "server_error", 1.0, None, None, None)
    m.observe_retry("m/b", "server_error")
    m.observe_breaker("m/b", "open")
    m.observe_breaker("m/b", "half_open")
    m.observe_wait(1.5)
    m.set_queue_depth(0)
    m.observe_attempt("m/b", "ok", 0.3, 30, 9, Decimal("0.0030"))
    m.observe_breaker("m/b", "closed")
    m.set_budget_remaining(Decimal("9.994"))
    clock.now = 110.0
    return m, clock


def test_snapshot_equals_the_scripted_run() -> None:
    """After a scripted run the snapshot holds exactly the counts, tokens, cost and states that happened."""
    m, _ = _scripted()
    expected = MetricsSnapshot(
        requests=5, requests_by_outcome={"ok": 3, "rate_limited": 1, "server_error": 1}, success_rate=0.6,
        retries=2, retries_by_reason={"rate_limited": 1, "server_error": 1},
        latency_p50_s=0.3, latency_p95_s=1.0, latency_p99_s=1.0, requests_per_s=0.5, uptime_s=10.0,
        prompt_tokens=60, completion_tokens=21, cost_usd=Decimal("0.0060"), rate_limit_waits=2,
        rate_limit_wait_s=2.0, queue_depth=0, responses_429=1, breaker_transitions=3,
        breaker_states={"m/b": "closed"}, budget_remaining_usd=Decimal("9.994"),
    )
    assert expected == m.snapshot()


def test_prometheus_values_equal_the_scripted_run() -> None:
    """The registry's samples agree with the scripted run, label by label."""
    m, _ = _scripted()
    assert _value(m, "requests_total", outcome="ok", model="m/a") == 2.0
    assert _value(m, "requests_total", outcome="server_error", model="m/b") == 1.0
    assert _value(m, "retries_total", model="m/a", reason="rate_limited") == 1.0
    assert _value(m, "tokens_total", direction="in", model="m/a") == 30.0
    assert _value(m, "tokens_total", direction="out", model="m/b") == 9.0
    assert pytest.approx(0.003) == _value(m, "cost_usd_total", model="m/a")
    waits = (_value(m, "rate_limit_waits_total"), _value(m, "rate_limit_wait_seconds_total"))
    assert (*waits, _value(m, "responses_429_total")) == (2.0, 2.0, 1.0)
    assert _value(m, "breaker_transitions_total", model="m/b", to="open") == 1.0
    assert _value(m, "breaker_state", model="m/b") == 0.0
    assert _value(m, "rate_limit_queue_depth") == 0.0
    assert _value(m, "budget_remaining_usd") == 9.994
    assert _value(m, "request_latency_seconds_count", model="m/b") == 2.0
    assert _value(m, "request_latency_seconds_bucket", model="m/b", le="0.5") == 1.0


def test_percentiles_are_exact_nearest_rank() -> None:
    """p50/p95/p99 of the latencies 1..100 (in any order) are exactly 50, 95 and 99."""
    values = [float(v) for v in range(1, 101)]
    random.Random(0).shuffle(values)
    m = ClientMetrics(clock=FakeClock())
    for v in values:
        m.observe_attempt("m", "ok", v, None, None, None)
    snap = m.snapshot()
    assert (snap.latency_p50_s, snap.latency_p95_s, snap.latency_p99_s) == (50.0, 95.0, 99.0)
    small = [10.0, 20.0, 30.0]
    assert (nearest_rank([], 50), nearest_rank(small, 50), nearest_rank(small, 95)) == (None, 20.0, 30.0)


def test_reservoir_keeps_only_recent_latencies() -> None:
    """With a reservoir of 10, percentiles come from the last 10 latencies only."""
    m = ClientMetrics(clock=FakeClock(), reservoir_size=10)
    for v in range(1, 21):
        m.observe_attempt("m", "ok", float(v), None, None, None)
    snap = m.snapshot()
    assert (snap.latency_p50_s, snap.latency_p99_s, snap.requests) == (15.0, 20.0, 20)


def test_empty_snapshot_and_rate() -> None:
    """Before any attempt there is no success rate or latency; requests/s is attempts over elapsed time."""
    clock = FakeClock()
    m = ClientMetrics(clock=clock)
    empty = m.snapshot()
    got = (empty.success_rate, empty.latency_p50_s, empty.requests_per_s, empty.budget_remaining_usd)
    assert got == (None, None, 0.0, None)
    assert math.isnan(_value(m, "budget_remaining_usd") or 0.0)
    for _ in range(4):
        m.observe_attempt("m", "error", None, None, None, None)
    clock.now += 2.0
    assert (m.snapshot().requests_per_s, m.snapshot().success_rate) == (2.0, 0.0)


def test_two_clients_never_collide() -> None:
    """Two ClientMetrics in one process count separately and leave the global registry alone."""
    first, second = ClientMetrics(clock=FakeClock()), ClientMetrics(clock=FakeClock())
    first.observe_attempt("m", "ok", 0.1, 1, 1, None)
    first.observe_attempt("m", "ok", 0.1, 1, 1, None)
    second.observe_attempt("m", "ok", 0.1, 1, 1, None)
    assert (first.snapshot().requests, second.snapshot().requests) == (2, 1)
    counts = [_value(each, "requests_total", outcome="ok", model="m") for each in (first, second)]
    assert counts == [2.0, 1.0]
    assert b"together_requests_total" not in generate_latest(REGISTRY)


def test_labels_never_carry_keys_or_text() -> None:
    """A key or free text passed as a model, outcome or reason becomes the label "other"; exposition stays clean."""
    m = ClientMetrics(clock=FakeClock())
    m.observe_attempt(PLANTED_KEY, "ok", 0.1, 1, 1, Decimal("0.01"))
    m.observe_attempt("Tell me everything about my account", f"ok {PLANTED_KEY}", 0.1, 1, 1, None)
    m.observe_retry(f"Bearer {PLANTED_KEY}", f"Authorization: Bearer {PLANTED_KEY}")
    m.observe_breaker(PLANTED_KEY, "open")
    text = m.exposition().decode()
    assert "PLANTED" not in text
    assert "Tell me" not in text
    assert _value(m, "requests_total", outcome="other", model="other") == 1.0
    assert _value(m, "retries_total", model="other", reason="other") == 1.0


def test_reasons_are_normalised_words() -> None:
    """Retry reasons as the retry policy words them become stable snake_case labels."""
    m = ClientMetrics(clock=FakeClock())
    for reason in ("503", "429 dynamic_request_limited", "read timeout", "Read Timeout", "ReadTimeout"):
        m.observe_retry("m", reason)
    expected = {"503": 1, "429_dynamic_request_limited": 1, "read_timeout": 2, "readtimeout": 1}
    assert m.snapshot().retries_by_reason == expected
    assert _value(m, "retries_total", model="m", reason="read_timeout") == 2.0


def test_model_label_cardinality_is_bounded() -> None:
    """At most 200 model ids and 64 reasons become labels; the rest count as "other"."""
    m = ClientMetrics(clock=FakeClock())
    for i in range(250):
        m.observe_attempt(f"org/model-{i}", "ok", None, None, None, None)
    assert _value(m, "requests_total", outcome="ok", model="other") == 50.0
    assert _value(m, "requests_total", outcome="ok", model="org/model-199") == 1.0
    for i in range(70):
        m.observe_retry("org/model-0", f"reason {i}")
    assert _value(m, "retries_total", model="org/model-0", reason="other") == 6.0


def test_unknown_breaker_state_is_refused() -> None:
    """observe_breaker accepts only closed, open and half_open; open exports gauge value 1."""
    m = ClientMetrics(clock=FakeClock())
    with pytest.raises(ValueError, match="breaker state"):
        m.observe_breaker("m", "melted")
    m.observe_breaker("m", "open")
    assert _value(m, "breaker_state", model="m") == 1.0


def test_serve_exposes_the_registry_over_http() -> None:
    """serve(0) starts a loopback scrape endpoint for this client's registry; close() stops it."""
    m = ClientMetrics(clock=FakeClock())
    m.observe_attempt("m/served", "ok", 0.1, 1, 1, None)
    port = m.serve(0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            body = response.read().decode()
    finally:
        m.close()
    assert 'together_requests_total{model="m/served",outcome="ok"} 1.0' in body
    m.close()  # idempotent
