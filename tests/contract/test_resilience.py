"""Both clients: retries with server hints, the breaker failing fast and recovering, what is never retried."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import CHAT_URL, USER, FakeClock, MakeClient, test_settings
from wrapper import (
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    BreakerStateChanged,
    CircuitOpenError,
    Event,
    RateLimited,
    RateLimitError,
    RetryScheduled,
    ServerError,
)


def _err(status: int, type_: str = "server_error") -> dict[str, object]:
    return {"status_code": status, "json": bodies.error("nope", type_)}


async def test_429_with_hint_then_200(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 429 carrying retry-after-ms is retried after at least that wait (jitter only lengthens it), then 200."""
    httpx_mock.add_response(url=CHAT_URL, status_code=429, json=bodies.error("slow", "dynamic_request_limited"),
                            headers={"retry-after-ms": "1500", "x-request-id": "r1"})
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), headers={"x-request-id": "r2"})
    events: list[Event] = []
    client = make_client(on_event=events.append)
    reply = await client.create()
    assert "Paris." == reply.choices[0].message.content
    assert 1 == len(client.sleeps) and 1.5 <= client.sleeps[0] <= 1.5 * 1.25
    assert 2 == len(httpx_mock.get_requests())
    assert [RateLimited, RetryScheduled] == [type(e) for e in events]
    assert "dynamic_request_limited" == events[0].type  # type: ignore[attr-defined]


async def test_503_three_times_then_200(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Three 503s are retried with growing jittered waits (about 2, 4, 8 s) and the fourth attempt succeeds."""
    for _ in range(3):
        httpx_mock.add_response(url=CHAT_URL, **_err(503))  # type: ignore[arg-type]
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    client = make_client()
    await client.create()
    assert 4 == len(httpx_mock.get_requests())
    assert 3 == len(client.sleeps)
    for wait, nominal in zip(client.sleeps, (2, 4, 8), strict=True):
        assert nominal * 0.75 <= wait <= nominal * 1.25
    assert 3 == client.client.metrics.snapshot().retries


async def test_gives_up_after_max_retries_with_attempts(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """After 4 attempts the final error carries attempts=4 and the last request id."""
    for i in range(4):
        httpx_mock.add_response(url=CHAT_URL, status_code=502, json=bodies.error("bad gateway", "server_error"),
                                headers={"x-request-id": f"r{i}"})
    with pytest.raises(ServerError) as info:
        await make_client().create()
    assert 4 == info.value.attempts
    assert "r3" == info.value.request_id


async def test_hint_above_cap_gives_up_at_once(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A retry-after longer than the cap raises at once with retry_after set."""
    httpx_mock.add_response(url=CHAT_URL, status_code=429, json=bodies.error("slow", "dynamic_request_limited"),
                            headers={"retry-after": "600"})
    client = make_client()
    with pytest.raises(RateLimitError) as info:
        await client.create()
    assert 600.0 == info.value.retry_after
    assert [] == client.sleeps


async def test_x_should_retry_false_wins(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """x-should-retry: false stops the retry of an otherwise retryable 503."""
    httpx_mock.add_response(url=CHAT_URL, status_code=503, json=bodies.error("x", "server_error"),
                            headers={"x-should-retry": "false"})
    with pytest.raises(ServerError):
        await make_client().create()
    assert 1 == len(httpx_mock.get_requests())


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
async def test_client_errors_are_not_retried(make_client: MakeClient, httpx_mock: HTTPXMock, status: int) -> None:
    """4xx other than 408/429 fail after one request, without sleeping."""
    httpx_mock.add_response(url=CHAT_URL, status_code=status, json=bodies.error("no", "invalid_request_error"))
    client = make_client()
    with pytest.raises(Exception) as info:
        await client.create()
    assert status == info.value.status_code  # type: ignore[attr-defined]
    assert 1 == len(httpx_mock.get_requests())
    assert [] == client.sleeps


async def test_read_timeouts_retried_by_default(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A read timeout is retried when TOGETHER_RETRY_READ_TIMEOUTS is on (the default)."""
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CHAT_URL)
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await make_client().create()
    assert 2 == len(httpx_mock.get_requests())


async def test_read_timeouts_not_retried_when_off(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """With retry_read_timeouts off, a read timeout fails after one attempt."""
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CHAT_URL)
    with pytest.raises(APITimeoutError):
        await make_client(test_settings(retry_read_timeouts=False)).create()
    assert 1 == len(httpx_mock.get_requests())


async def test_connect_errors_always_retried(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A refused connection (nothing sent) is retried even with retry_read_timeouts off."""
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=CHAT_URL)
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await make_client(test_settings(retry_read_timeouts=False)).create()
    assert 2 == len(httpx_mock.get_requests())


async def test_503_storm_opens_breaker_then_one_probe_recovers(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """5 counted failures open the model's breaker; the next call fails fast with no request; after the
    recovery time exactly one probe goes through and its success closes the breaker."""
    clock = FakeClock()
    events: list[Event] = []
    client = make_client(test_settings(max_retries=0), clock=clock, on_event=events.append)
    for _ in range(5):
        httpx_mock.add_response(url=CHAT_URL, **_err(503))  # type: ignore[arg-type]
        with pytest.raises(ServerError):
            await client.create()
    assert 5 == len(httpx_mock.get_requests())
    with pytest.raises(CircuitOpenError) as info:
        await client.create()
    assert 5 == len(httpx_mock.get_requests())  # failed fast: nothing sent
    assert 29.0 <= info.value.retry_in <= 30.0
    other = await _other_model_still_works(client, httpx_mock)
    assert other
    clock.advance(30.5)
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await client.create()
    assert "closed" == client.client.breaker_states["Qwen/Qwen2.5-32B-Instruct-Turbo"]
    moves = [(e.old, e.new) for e in events if isinstance(e, BreakerStateChanged)]
    assert [("closed", "open"), ("open", "half_open"), ("half_open", "closed")] == moves


async def _other_model_still_works(client: object, httpx_mock: HTTPXMock) -> bool:
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    reply = await client.create(model="meta-llama/Llama-3.3-70B-Instruct-Turbo")  # type: ignore[attr-defined]
    return reply is not None


async def test_failed_probe_reopens(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A failing half-open probe re-opens the breaker for another recovery period."""
    clock = FakeClock()
    client = make_client(test_settings(max_retries=0, breaker_failures=2), clock=clock)
    for _ in range(2):
        httpx_mock.add_response(url=CHAT_URL, **_err(500))  # type: ignore[arg-type]
        with pytest.raises(ServerError):
            await client.create()
    clock.advance(31)
    httpx_mock.add_response(url=CHAT_URL, **_err(500))  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        await client.create()  # the probe
    with pytest.raises(CircuitOpenError):
        await client.create()
    assert 3 == len(httpx_mock.get_requests())


async def test_4xx_and_429_do_not_open_breaker(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Client errors and 429s are not Together being down: the breaker stays closed."""
    client = make_client(test_settings(max_retries=0, breaker_failures=2))
    for status in (400, 429, 429, 400):
        httpx_mock.add_response(url=CHAT_URL, status_code=status, json=bodies.error("x", "invalid_request_error"))
        with pytest.raises((BadRequestError, RateLimitError)):
            await client.create()
    assert "closed" == client.client.breaker_states["Qwen/Qwen2.5-32B-Instruct-Turbo"]


async def test_deadline_stops_retries(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A total deadline per call stops retrying once the next wait would pass it.

    Waits are 2 s and 4 s, each +/- 25 %: the first (at most 2.5 s) fits a 4 s deadline, the first two together (at
    least 4.5 s) never do, whatever the jitter draws.
    """
    clock = FakeClock()
    httpx_mock.add_response(url=CHAT_URL, **_err(503))  # type: ignore[arg-type]
    httpx_mock.add_response(url=CHAT_URL, **_err(503))  # type: ignore[arg-type]
    client = make_client(test_settings(retry_deadline=4.0), clock=clock)
    with pytest.raises(ServerError) as info:
        await client.create()
    assert 2 == info.value.attempts


async def test_with_options_shares_state_but_not_policy(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """with_options(max_retries=0) makes one attempt, yet shares the parent's ledger, breakers and metrics."""
    parent = make_client()
    child = parent.client.with_options(max_retries=0)
    assert child.ledger is parent.client.ledger and child.metrics is parent.client.metrics
    httpx_mock.add_response(url=CHAT_URL, **_err(503))  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        if isinstance(child, AsyncClient):
            await child.chat.completions.create(messages=USER)
        else:
            child.chat.completions.create(messages=USER)
    assert 1 == len(httpx_mock.get_requests())
    assert 1 == parent.client.metrics.snapshot().requests
    if isinstance(child, AsyncClient):
        await child.aclose()
    else:
        child.close()
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await parent.create()  # closing the child left the parent's pool open
