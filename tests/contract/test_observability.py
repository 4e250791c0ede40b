"""Both clients: logs, metrics and events after a scripted run equal what happened, and never show the key."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from loguru import logger
from pytest_httpx import HTTPXMock

import wrapper
from tests import bodies
from tests.conftest import API_KEY, CHAT_URL, FakeClock, MakeClient, test_settings
from wrapper import BreakerStateChanged, Event, ServerError


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """wrapper's documented JSON sink, captured; removed and re-disabled afterwards."""
    sink = io.StringIO()
    handler = wrapper.enable_json_logs(sink, level="DEBUG")
    yield sink
    logger.remove(handler)
    logger.disable("wrapper")


async def test_scripted_run_metrics_logs_events(make_client: MakeClient, httpx_mock: HTTPXMock,
                                                json_logs: io.StringIO) -> None:
    """2 successes, a 503 retried once, then a breaker trip: the snapshot, the per-attempt log records and the
    events say exactly that, and the key appears in none of them."""
    clock = FakeClock()
    events: list[Event] = []
    client = make_client(test_settings(breaker_failures=2, max_estimated_cost=Decimal("1")), clock=clock,
                         on_event=events.append)
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), headers={"x-request-id": "ok-1"})
    httpx_mock.add_response(url=CHAT_URL, status_code=503, json=bodies.error("busy", "server_error"),
                            headers={"x-request-id": "busy-1"})
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), headers={"x-request-id": "ok-2"})
    await client.create(max_tokens=8)
    await client.create(max_tokens=8)  # 503 then 200
    httpx_mock.add_response(url=CHAT_URL, status_code=500, json=bodies.error("boom", "server_error"))
    with pytest.raises(ServerError):
        await client.create(max_tokens=8)  # the second counted failure opens the breaker: no retry is scheduled
    snap = client.client.metrics.snapshot()
    assert {"ok": 2, "error": 2} == snap.requests_by_outcome
    assert 1 == snap.retries
    assert 2 * 24 == snap.prompt_tokens + snap.completion_tokens
    assert Decimal("0.0000384") == snap.cost_usd
    assert 1 == snap.breaker_transitions
    assert {"Qwen/Qwen2.5-32B-Instruct-Turbo": "open"} == snap.breaker_states
    assert snap.budget_remaining_usd is not None and snap.budget_remaining_usd < Decimal("1")
    assert [("closed", "open")] == [(e.old, e.new) for e in events if isinstance(e, BreakerStateChanged)]

    records = [json.loads(line)["record"] for line in json_logs.getvalue().splitlines()]
    attempts = [r["extra"] for r in records if "outcome" in r["extra"]]
    assert ["ok-1", "busy-1", "ok-2"] == [a["request_id"] for a in attempts[:3]]
    assert ["ok", "error", "ok", "error"] == [a["outcome"] for a in attempts]
    for field in ("model", "status", "latency_s", "attempt", "prompt_tokens", "completion_tokens", "cost_usd"):
        assert field in attempts[0]
    assert any("retry" in r["message"] for r in records)
    everything = json_logs.getvalue() + client.client.metrics.exposition().decode() + repr(events)
    assert API_KEY not in everything
    assert "capital of France" not in json_logs.getvalue()  # message contents are not logged


async def test_events_default_to_warning_logs(make_client: MakeClient, httpx_mock: HTTPXMock,
                                              json_logs: io.StringIO) -> None:
    """Without an on_event hook, a 429 event is logged at WARNING."""
    httpx_mock.add_response(url=CHAT_URL, status_code=429, json=bodies.error("slow", "dynamic_request_limited"))
    with pytest.raises(wrapper.RateLimitError):
        await make_client(test_settings(max_retries=0)).create()
    warnings = [json.loads(line)["record"] for line in json_logs.getvalue().splitlines()]
    assert any(r["level"]["name"] == "WARNING" and "RateLimited" in r["message"] for r in warnings), warnings


async def test_quiet_by_default(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Without opting in, wrapper emits nothing to an application's loguru sinks."""
    seen: list[str] = []
    handler = logger.add(seen.append, level="DEBUG")
    try:
        httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
        await make_client().create()
    finally:
        logger.remove(handler)
    assert [] == seen
