"""Alerts and metrics that are real (issue 13): the queue-depth gauge, one storm alert for many 429s, an event for
a call that failed for good, configurable budget thresholds; on both clients where both apply."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import CHAT_URL, USER, FakeClock, MakeClient, test_settings
from wrapper import (
    AsyncClient,
    BudgetThreshold,
    CallFailed,
    Client,
    CreditLimitError,
    Event,
    RateLimited,
    RateLimitError,
    RateLimitStorm,
    ServerError,
)


async def test_a_storm_of_429s_is_one_alert_with_counts(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Twelve 429s within the window give twelve RateLimited events but exactly one RateLimitStorm with counts."""
    for i in range(12):
        kind = "dynamic_request_limited" if i % 3 else "rate_limit_exceeded"
        httpx_mock.add_response(url=CHAT_URL, status_code=429, json=bodies.error("slow down", kind))
    events: list[Event] = []
    both = make_client(test_settings(max_retries=0, storm_429s=5, storm_window=60.0), on_event=events.append,
                       clock=FakeClock())
    for _ in range(12):
        with contextlib.suppress(RateLimitError):  # each 429 is the point
            await both.create()
    storms = [e for e in events if isinstance(e, RateLimitStorm)]
    assert 12 == sum(isinstance(e, RateLimited) for e in events)
    assert 1 == len(storms)
    assert (5, 60.0) == (storms[0].count, storms[0].window)
    assert {"dynamic_request_limited": 3, "rate_limit_exceeded": 2} == storms[0].types


async def test_a_call_that_fails_for_good_emits_one_event(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """After its retries, a call that still fails emits CallFailed once, with attempts, status and reason."""
    for _ in range(3):
        httpx_mock.add_response(url=CHAT_URL, status_code=503, json=bodies.error("busy", "server_error"))
    events: list[Event] = []
    both = make_client(test_settings(max_retries=2, retry_base=0.001), on_event=events.append)
    with contextlib.suppress(ServerError):
        await both.create()
    failed = [e for e in events if isinstance(e, CallFailed)]
    assert 1 == len(failed)
    assert (3, 503, "ServerError", "server_error") == (failed[0].attempts, failed[0].status, failed[0].error,
                                                       failed[0].type)


async def test_credit_exhaustion_is_not_reported_as_rate_limiting(make_client: MakeClient,
                                                                  httpx_mock: HTTPXMock) -> None:
    """A 429 credit_limit is billing: CreditLimitError and CallFailed, but no RateLimited event and no 429 count."""
    httpx_mock.add_response(url=CHAT_URL, status_code=429, json=bodies.error("no credit", "credit_limit"))
    events: list[Event] = []
    both = make_client(test_settings(max_retries=3), on_event=events.append)
    with contextlib.suppress(CreditLimitError):
        await both.create()
    assert not any(isinstance(e, RateLimited) for e in events)
    assert 0 == both.client.metrics.snapshot().responses_429
    assert 1 == sum(isinstance(e, CallFailed) for e in events)


async def test_budget_thresholds_are_configurable(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """TOGETHER_BUDGET_ALERTS=10,20 fires exactly those thresholds (the reservation counts as used)."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    events: list[Event] = []
    both = make_client(test_settings(max_estimated_cost="0.005", budget_alerts="10,20"), on_event=events.append)
    await both.create(max_tokens=2000)
    fired = sorted({e.percent for e in events if isinstance(e, BudgetThreshold)})
    assert [10, 20] == fired


def test_queue_depth_is_published(httpx_mock: HTTPXMock) -> None:
    """With six callers waiting in the limiter's line, snapshot() and the Prometheus text both say 6."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), is_reusable=True)
    release = threading.Event()
    waiting = threading.Semaphore(0)
    clock = FakeClock()

    def held_sleep(seconds: float) -> None:  # the head of the line holds until the test has looked
        waiting.release()
        release.wait(10)
        clock.advance(seconds)

    client = Client(test_settings(rate_limit_rpm=60), _sleep=held_sleep, _clock=clock)
    try:
        client.chat.completions.create(messages=USER)  # takes the only slot of this second
        threads = [threading.Thread(target=client.chat.completions.create, kwargs={"messages": USER})
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        assert waiting.acquire(timeout=10)  # the head is sleeping: all six are in line
        for _ in range(200):
            if 6 == client.metrics.snapshot().queue_depth:
                break
            threading.Event().wait(0.01)
        assert 6 == client.metrics.snapshot().queue_depth
        assert b"rate_limit_queue_depth 6.0" in client.metrics.exposition()
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
        client.close()
    assert 0 == client.metrics.snapshot().queue_depth


def test_queue_depth_is_published_for_the_async_client(httpx_mock: HTTPXMock) -> None:
    """The async client's snapshot() reads the same line: six tasks waiting show as 6."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), is_reusable=True)

    async def main() -> tuple[int, bytes]:
        gate = asyncio.Event()
        clock = FakeClock()

        async def held_sleep(seconds: float) -> None:
            await gate.wait()
            clock.advance(seconds)

        async with AsyncClient(test_settings(rate_limit_rpm=60), _sleep=held_sleep, _clock=clock) as client:
            await client.chat.completions.create(messages=USER)
            tasks = [asyncio.create_task(client.chat.completions.create(messages=USER)) for _ in range(6)]
            for _ in range(50):
                await asyncio.sleep(0)
            seen = client.metrics.snapshot().queue_depth, client.metrics.exposition()
            gate.set()
            await asyncio.gather(*tasks)
            return seen

    depth, text = asyncio.run(main())
    assert 6 == depth
    assert b"rate_limit_queue_depth 6.0" in text
