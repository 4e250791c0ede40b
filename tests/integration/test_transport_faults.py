"""Both clients on their transports (httpx's own pools by default; the async client also on the opt-in aiohttp
backend, TOGETHER_HTTP_BACKEND=aiohttp) against real sockets: each connection failure is classified by whether
Together may have got the request, which decides the ledger's charge."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from wrapper import APIConnectionError, APITimeoutError, AsyncClient, Client, Settings
from wrapper.testing import FakeTogetherServer, Fault

USER = [{"role": "user", "content": "hello there"}]


KINDS = ["sync", "async", "async-aiohttp"]


def _settings(url: str, kind: str = "sync") -> Settings:
    return Settings(api_key="sk-transport-test", base_url=url, ledger_url="memory", rate_limit_rpm=None,
                    max_retries=0, timeout=2.0, max_estimated_cost=Decimal("1"),
                    http_backend="aiohttp" if kind == "async-aiohttp" else "httpx")


async def _call(kind: str, url: str) -> tuple[BaseException, Decimal, Decimal]:
    """One call on the given client kind; returns the error and the ledger's uncertain and reserved totals."""
    if kind.startswith("async"):
        async with AsyncClient(_settings(url, kind)) as aclient:
            with pytest.raises(APIConnectionError) as info:
                await aclient.chat.completions.create(messages=USER, max_tokens=8)
            status = aclient.ledger.summary()
    else:
        with Client(_settings(url)) as client:
            with pytest.raises(APIConnectionError) as info:
                client.chat.completions.create(messages=USER, max_tokens=8)
            status = client.ledger.summary()
    return info.value, status.uncertain, status.reserved


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["reset_before_headers", "reset_after_headers"])
async def test_reset_after_sending_is_uncertain(kind: str, fault: str) -> None:
    """A connection reset after the request went out may have been billed: sent=True and an uncertain charge."""
    async with FakeTogetherServer() as server:
        server.script(Fault(kind=fault))  # type: ignore[arg-type]
        error, uncertain, reserved = await _call(kind, server.url)
    assert error.sent is True  # type: ignore[attr-defined]
    assert uncertain > 0 and reserved == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_refused_connection_is_not_charged(kind: str) -> None:
    """A refused connection never reached Together: sent=False, not a timeout, and nothing stays charged."""
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error, uncertain, reserved = await _call(kind, f"http://127.0.0.1:{port}/v1")
    assert error.sent is False  # type: ignore[attr-defined]
    assert not isinstance(error, APITimeoutError)
    assert uncertain == 0 and reserved == 0


async def test_the_aiohttp_backend_answers_through_the_same_stack() -> None:
    """TOGETHER_HTTP_BACKEND=aiohttp: the async client sends through httpx-aiohttp's transport under the same
    httpx client, and a call is answered, typed and charged as on the default transport."""
    from httpx_aiohttp import AiohttpTransport

    async with FakeTogetherServer() as server, AsyncClient(_settings(server.url, "async-aiohttp")) as client:
        reply = await client.chat.completions.create(messages=USER, max_tokens=8)
        transport = client._api.get_async_httpx_client()._transport
        committed = client.ledger.summary().committed
    assert isinstance(transport, AiohttpTransport)
    assert reply.choices[0].message.content
    assert committed > 0
