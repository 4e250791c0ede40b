"""Both clients on their default transports (httpx's pool, httpx-aiohttp) against real sockets: each connection
failure is classified by whether Together may have got the request, which decides the ledger's charge."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from wrapper import APIConnectionError, APITimeoutError, AsyncClient, Client, Settings
from wrapper.testing import FakeTogetherServer, Fault

USER = [{"role": "user", "content": "hello there"}]


def _settings(url: str) -> Settings:
    return Settings(api_key="sk-transport-test", base_url=url, ledger_url="memory", rate_limit_rpm=None,
                    max_retries=0, timeout=2.0, max_estimated_cost=Decimal("1"))


async def _call(kind: str, url: str) -> tuple[BaseException, Decimal, Decimal]:
    """One call on the given client kind; returns the error and the ledger's uncertain and reserved totals."""
    if kind == "async":
        async with AsyncClient(_settings(url)) as aclient:
            with pytest.raises(APIConnectionError) as info:
                await aclient.chat.completions.create(messages=USER, max_tokens=8)
            status = aclient.ledger.summary()
    else:
        with Client(_settings(url)) as client:
            with pytest.raises(APIConnectionError) as info:
                client.chat.completions.create(messages=USER, max_tokens=8)
            status = client.ledger.summary()
    return info.value, status.uncertain, status.reserved


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("fault", ["reset_before_headers", "reset_after_headers"])
async def test_reset_after_sending_is_uncertain(kind: str, fault: str) -> None:
    """A connection reset after the request went out may have been billed: sent=True and an uncertain charge."""
    async with FakeTogetherServer() as server:
        server.script(Fault(kind=fault))  # type: ignore[arg-type]
        error, uncertain, reserved = await _call(kind, server.url)
    assert error.sent is True  # type: ignore[attr-defined]
    assert uncertain > 0 and reserved == 0


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_refused_connection_is_not_charged(kind: str) -> None:
    """A refused connection never reached Together: sent=False, not a timeout, and nothing stays charged."""
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error, uncertain, reserved = await _call(kind, f"http://127.0.0.1:{port}/v1")
    assert error.sent is False  # type: ignore[attr-defined]
    assert not isinstance(error, APITimeoutError)
    assert uncertain == 0 and reserved == 0
