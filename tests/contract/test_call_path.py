"""The call path of issue 11 on both clients: generated functions wrapped by the stack, one httpx seam.

Each test says which promise it proves: pytest-httpx intercepts default clients; the generated functions are what
is called; any generated endpoint gets the whole stack in one line; an open breaker empties the limiter's line;
local errors are neither retried, charged nor counted; a whitespace key never leaks.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock
from together_api_client.api.chat import create_chat_completion
from together_api_client.api.models import list_models
from together_api_client.client import Client as GeneratedClient
from together_api_client.models.chat_completion_request import ChatCompletionRequest

from tests import bodies
from tests.conftest import API_KEY, BASE_URL, CHAT_URL, USER, FakeClock, MakeClient, test_settings
from wrapper import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    ChatCompletionResponse,
    CircuitOpenError,
    Client,
    RequestValidationError,
    ServerError,
)
from wrapper._pipeline._async._stack import AsyncStack
from wrapper._pipeline._call import Call, attempt_timeout
from wrapper._pipeline._sync._stack import SyncStack

MODELS_URL = f"{BASE_URL}/models"


async def test_pytest_httpx_intercepts_default_clients(httpx_mock: HTTPXMock) -> None:
    """A Client() and an AsyncClient() built with no transport argument are both intercepted by pytest-httpx."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion("sync"))
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion("async"))
    with Client(test_settings()) as client:
        reply = client.chat.completions.create(messages=USER)
    async with AsyncClient(test_settings()) as aclient:
        areply = await aclient.chat.completions.create(messages=USER)
    assert ("sync", "async") == (reply.choices[0].message.content, areply.choices[0].message.content)
    assert 2 == len(httpx_mock.get_requests())


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_generated_functions_are_what_is_called(kind: str, httpx_mock: HTTPXMock,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """create() calls create_chat_completion.*_detailed and models.list() list_models.*_detailed, on the generated
    client, with a typed request model as the body."""
    seen: list[tuple[str, Any]] = []
    for module, name in ((create_chat_completion, "sync_detailed"), (create_chat_completion, "asyncio_detailed"),
                         (list_models, "sync_detailed"), (list_models, "asyncio_detailed")):
        original = getattr(module, name)
        label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
        if name == "sync_detailed":
            def spy(*args: Any, _o: Any = original, _l: str = label, **kwargs: Any) -> Any:
                seen.append((_l, kwargs))
                return _o(*args, **kwargs)
        else:
            async def spy(*args: Any, _o: Any = original, _l: str = label, **kwargs: Any) -> Any:  # type: ignore[misc]
                seen.append((_l, kwargs))
                return await _o(*args, **kwargs)
        monkeypatch.setattr(module, name, spy)
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    httpx_mock.add_response(url=MODELS_URL, json=[])
    if kind == "sync":
        with Client(test_settings()) as client:  # built after patching: the stack wraps what the module holds
            client.chat.completions.create(messages=USER)
            client.models.list()
        want = ["create_chat_completion.sync_detailed", "list_models.sync_detailed"]
    else:
        async with AsyncClient(test_settings()) as aclient:
            await aclient.chat.completions.create(messages=USER)
            await aclient.models.list()
        want = ["create_chat_completion.asyncio_detailed", "list_models.asyncio_detailed"]
    assert want == [label for label, _ in seen]
    assert isinstance(seen[0][1]["client"], GeneratedClient)
    assert isinstance(seen[0][1]["body"], ChatCompletionRequest)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_any_generated_endpoint_gets_the_whole_stack_in_one_line(kind: str, httpx_mock: HTTPXMock) -> None:
    """list_models wrapped by the stack in one line is retried (503 then 200), typed, and fed to the breaker."""
    httpx_mock.add_response(url=MODELS_URL, status_code=503, text="<html>busy</html>")
    httpx_mock.add_response(url=MODELS_URL, json=bodies.models() if hasattr(bodies, "models") else [])
    settings = test_settings(retry_base=0.001)
    call = Call(key="GET /models", total=5.0, timeout=attempt_timeout(5.0, 5.0))
    if kind == "sync":
        with Client(settings) as client:
            wrapped = SyncStack(client._rt).wrap(list_models.sync_detailed)  # the one line
            models = wrapped(call, client=client._api)
            states = client.breaker_states
    else:
        async with AsyncClient(settings) as aclient:
            awrapped = AsyncStack(aclient._rt).wrap(list_models.asyncio_detailed)  # the one line
            models = await awrapped(call, client=aclient._api)
            states = aclient.breaker_states
    assert isinstance(models, list)
    assert 2 == call.attempts == len(httpx_mock.get_requests())
    assert {"GET /models": "closed"} == states


async def test_an_open_breaker_empties_the_limiters_line(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """100 calls queued behind a 2-per-second limit against an outage fail at once when the breaker opens, instead
    of trickling out at the rate limit: a few requests are sent, the rest are refused, and little time passes."""
    httpx_mock.add_response(url=CHAT_URL, status_code=503, json=bodies.error("down", "server_error"),
                            is_reusable=True)
    clock = FakeClock()
    both = make_client(test_settings(rate_limit_rpm=120, max_retries=0, breaker_failures=3, breaker_window=60.0,
                                     breaker_recovery=600.0), clock=clock)
    outcomes: list[BaseException] = []

    async def one() -> None:
        try:
            await both.create()
        except (ServerError, CircuitOpenError) as exc:
            outcomes.append(exc)

    if both.kind == "async":
        await asyncio.gather(*[one() for _ in range(100)])
    else:
        await asyncio.gather(*[asyncio.to_thread(asyncio.run, one()) for _ in range(100)])
    assert 100 == len(outcomes)
    sent = len(httpx_mock.get_requests())
    assert 3 <= sent <= 6  # the failures that opened it (and the few already admitted)
    assert 100 - sent == sum(isinstance(e, CircuitOpenError) for e in outcomes)
    assert sum(both.sleeps) < 5.0  # the line was emptied, not served at 2/s (that would be about 50 s)


@pytest.mark.parametrize("failure", [httpx.LocalProtocolError("Illegal header value b'x\\n'"),
                                     httpx.UnsupportedProtocol("Request URL has an unsupported protocol")])
async def test_a_local_transport_error_is_neither_retried_charged_nor_counted(
        make_client: MakeClient, httpx_mock: HTTPXMock, failure: httpx.HTTPError) -> None:
    """An error raised before the request was written (h11 refusing a header) is sent=False and local: one try,
    no uncertain charge, the reservation released, and the breaker counts nothing."""
    httpx_mock.add_exception(failure, url=CHAT_URL)
    both = make_client(test_settings(max_retries=3, max_estimated_cost="1.00", breaker_failures=1))
    with pytest.raises(APIConnectionError) as info:
        await both.create()
    assert (False, True) == (info.value.sent, info.value.local)
    assert 1 == len(httpx_mock.get_requests())
    summary = both.client.ledger.summary()
    assert (Decimal(0), Decimal(0), Decimal(0)) == (summary.uncertain, summary.reserved, summary.committed)
    assert "closed" == both.client.breaker_states["Qwen/Qwen2.5-32B-Instruct-Turbo"]


async def test_a_bad_header_value_is_refused_before_any_io(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A header value with a newline, or a non-ASCII one, is a RequestValidationError: nothing sent or reserved."""
    both = make_client(test_settings(max_estimated_cost="1.00"))
    for headers in ({"X-Trace": "a\nb"}, {"X-Trace": "café"}, {"X-Trace": 3}):
        with pytest.raises(RequestValidationError, match="extra_headers"):
            await both.create(extra_headers=headers)
    assert [] == httpx_mock.get_requests()
    assert Decimal(0) == both.client.ledger.summary().reserved


async def test_a_whitespace_key_is_stripped_and_never_leaks(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A key with a trailing newline is sent stripped, and a 401 echoing it shows it nowhere."""
    httpx_mock.add_response(url=CHAT_URL, status_code=401,
                            json=bodies.error(f"Invalid API key provided: {API_KEY}", "invalid_request_error",
                                              "invalid_api_key"))
    both = make_client(test_settings(api_key=f"  {API_KEY}\n"))
    with pytest.raises(AuthenticationError) as info:
        await both.create()
    assert f"Bearer {API_KEY}" == httpx_mock.get_requests()[0].headers["Authorization"]
    error = info.value
    for text in (str(error), repr(error), repr(error.body), error.message):
        assert API_KEY not in text


def test_one_async_client_serves_two_event_loops(httpx_mock: HTTPXMock) -> None:
    """One AsyncClient used from two asyncio.run calls, one after the other, answers in both."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion("first"))
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion("second"))
    client = AsyncClient(test_settings())

    async def ask() -> ChatCompletionResponse:
        return await client.chat.completions.create(messages=USER)

    first = asyncio.run(ask())
    second = asyncio.run(ask())
    asyncio.run(client.aclose())
    assert ("first", "second") == (first.choices[0].message.content, second.choices[0].message.content)


async def test_the_event_loop_never_waits_on_the_ledger(httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop-lag probe: while the ledger's store takes 0.3 s to take a lease (reserve), a ticker on the same loop
    keeps ticking, because the async client runs that I/O in a worker thread."""
    import time

    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    async with AsyncClient(test_settings(max_estimated_cost="1.00")) as client:
        ledger = client.ledger
        real_reserve = ledger.reserve

        def slow_reserve(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.3)  # a store that is slow to answer (a held lock, a far database)
            return real_reserve(*args, **kwargs)

        monkeypatch.setattr(ledger, "try_reserve", lambda *a, **k: None, raising=False)
        monkeypatch.setattr(ledger, "reserve", slow_reserve)
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        probe = asyncio.create_task(ticker())
        await client.chat.completions.create(messages=USER)
        done.set()
        await probe
    assert ticks >= 10  # a blocked loop would not have ticked at all during the 0.3 s


async def test_raw_response_carries_headers_request_id_and_attempts(make_client: MakeClient,
                                                                     httpx_mock: HTTPXMock) -> None:
    """with_raw_response.create returns the typed reply with the answer's headers, request id and attempts."""
    httpx_mock.add_response(url=CHAT_URL, status_code=503, json=bodies.error("busy", "server_error"))
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(),
                            headers={"x-request-id": "req-42", "x-ratelimit-remaining": "99"})
    both = make_client(test_settings(retry_base=0.001))
    completions = both.client.chat.completions
    if isinstance(both.client, AsyncClient):
        raw = await both.client.chat.completions.with_raw_response.create(messages=USER)
    else:
        assert isinstance(completions, type(both.client.chat.completions))
        raw = both.client.chat.completions.with_raw_response.create(messages=USER)
    assert isinstance(raw.parsed, ChatCompletionResponse)
    assert ("req-42", "99", 200, 2) == (raw.request_id, raw.headers["x-ratelimit-remaining"], raw.status_code,
                                        raw.attempts)


async def test_a_call_whose_attempt_was_sent_never_fails_with_budget_exceeded(make_client: MakeClient,
                                                                             httpx_mock: HTTPXMock) -> None:
    """An uncertain first attempt (a 504: maybe billed) leaves no room in the budget for a second one: the retry
    loop gives up with the 504 itself, never with BudgetExceededError, and sends nothing more."""
    httpx_mock.add_response(url=CHAT_URL, status_code=504, json=bodies.error("upstream timeout", "timeout"))
    probe = make_client(test_settings(max_estimated_cost="1000"))
    bound = probe.client.ledger.estimate("Qwen/Qwen2.5-32B-Instruct-Turbo", USER, 64).cost
    assert bound is not None
    both = make_client(test_settings(max_retries=3, retry_base=0.001, max_estimated_cost=str(bound * 3 / 2)))
    with pytest.raises(ServerError) as info:
        await both.create(max_tokens=64)
    assert 504 == info.value.status_code
    assert 1 == len(httpx_mock.get_requests())
    assert bound == both.client.ledger.summary().uncertain  # the maybe-billed attempt is charged, once


async def test_a_per_call_timeout_is_checked_before_any_io(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """timeout= takes seconds or an httpx.Timeout (its largest limit); 0, negative, NaN, inf and None are refused
    with a RequestValidationError naming the field, before anything is sent."""
    both = make_client()
    for bad in (0, -1.0, float("nan"), float("inf"), None, "30"):
        with pytest.raises(RequestValidationError, match="timeout"):
            await both.create(timeout=bad)
    assert [] == httpx_mock.get_requests()
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await both.create(timeout=httpx.Timeout(10.0, connect=2.0))
    await both.create(timeout=2.5)
    sent = [r.extensions["timeout"] for r in httpx_mock.get_requests()]
    assert [10.0, 2.5] == [t["read"] for t in sent]  # the total bounds each operation too
