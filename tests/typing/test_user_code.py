"""Typical user code, type-checked by ``mypy --strict`` (scripts/test.sh) against the public API.

The functions are also run against pytest-httpx, so the checked code is code that works.
"""

from __future__ import annotations

from decimal import Decimal
from typing import assert_type

from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import API_KEY, CHAT_URL
from wrapper import (
    AsyncClient,
    AsyncStream,
    ChatCompletionChunk,
    ChatCompletionResponse,
    Client,
    MetricsSnapshot,
    Settings,
    Stream,
    UserMessage,
)


def user_sync(client: Client) -> str | None:
    """Plain dicts and typed messages; the result type is the generated response model."""
    reply = client.chat.completions.create(
        messages=[{"role": "system", "content": "Be brief."}, UserMessage(role="user", content="Hi")],
        max_tokens=16, temperature=0.2, stop=["\n"],
    )
    assert_type(reply, ChatCompletionResponse)
    stream = client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], stream=True)
    assert_type(stream, Stream)
    content = reply.choices[0].message.content
    return content if isinstance(content, str) else None


async def user_async(client: AsyncClient) -> str | None:
    """The async mirror returns the same types."""
    reply = await client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], max_tokens=8)
    assert_type(reply, ChatCompletionResponse)
    stream = await client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], stream=True)
    assert_type(stream, AsyncStream)
    async with stream:
        async for chunk in stream:
            assert_type(chunk, ChatCompletionChunk)
    snapshot = client.metrics.snapshot()
    assert_type(snapshot, MetricsSnapshot)
    content = reply.choices[0].message.content
    return content if isinstance(content, str) else None


def _settings() -> Settings:
    return Settings(api_key=API_KEY, ledger_url="memory", rate_limit_rpm=None, max_estimated_cost=Decimal("1"))


def test_user_sync_code_runs(httpx_mock: HTTPXMock) -> None:
    """The type-checked sync user code runs."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    httpx_mock.add_response(url=CHAT_URL, stream=_sse(), headers={"content-type": "text/event-stream"})
    import httpx

    with Client(_settings(), transport=httpx.HTTPTransport()) as client:
        assert "Paris." == user_sync(client)


async def test_user_async_code_runs(httpx_mock: HTTPXMock) -> None:
    """The type-checked async user code runs."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    httpx_mock.add_response(url=CHAT_URL, stream=_sse(), headers={"content-type": "text/event-stream"})
    import httpx

    async with AsyncClient(_settings(), transport=httpx.AsyncHTTPTransport()) as client:
        assert "Paris." == await user_async(client)


def _sse() -> object:
    import json

    from pytest_httpx import IteratorStream

    events = [f"data: {json.dumps(bodies.chunk('Par'))}\n\n", f"data: {json.dumps(bodies.chunk('is', last=True))}\n\n",
              "data: [DONE]\n\n"]
    return IteratorStream([e.encode() for e in events])
