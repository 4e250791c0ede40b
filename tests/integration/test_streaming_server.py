"""Both clients stream from the loopback fake Together server: real sockets, real pools, injected stream faults.

Clients are built with ``transport=None``, i.e. the transports users get (httpx's own for Client, httpx-aiohttp
for AsyncClient). Real timeouts here are short (0.3 s idle) and no test asserts on a duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import USER, Both, MakeClient, test_settings
from wrapper import APITimeoutError, AsyncClient, AsyncStream, ServerError, Settings, Stream, StreamError
from wrapper.testing import FakeTogetherServer, Fault

MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
WORDS = "one two three four five six seven eight nine ten"
MESSAGES = [{"role": "user", "content": WORDS}]


@pytest.fixture
def server() -> Iterator[FakeTogetherServer]:
    """A fake server streaming 8 content chunks per answer."""
    with FakeTogetherServer(stream_chunks=8) as srv:
        yield srv


def settings_for(server: FakeTogetherServer, **overrides: Any) -> Settings:
    return test_settings(base_url=server.url, **overrides)


def build(make_client: MakeClient, server: FakeTogetherServer, **overrides: Any) -> Both:
    return make_client(settings_for(server, **overrides), transport=None)


async def open_stream(client: Both) -> Stream | AsyncStream:
    if isinstance(client.client, AsyncClient):
        return await client.client.chat.completions.create(messages=MESSAGES, stream=True)
    return client.client.chat.completions.create(messages=MESSAGES, stream=True)


async def read_all(client: Both) -> tuple[str, int]:
    """Stream one answer to the end: its text and its number of chunks."""
    stream = await open_stream(client)
    n = 0
    if isinstance(stream, AsyncStream):
        async with stream:
            async for _ in stream:
                n += 1
        return await stream.text(), n
    with stream:
        n = sum(1 for _ in stream)
    return stream.text(), n


async def test_a_stream_reads_whole_and_is_charged_its_usage(make_client: MakeClient,
                                                             server: FakeTogetherServer) -> None:
    """8 content chunks plus the usage chunk arrive; the text is the fake's answer; usage reaches ledger and metrics."""
    client = build(make_client, server)
    assert (WORDS, 9) == await read_all(client)
    snap = client.client.metrics.snapshot()
    assert {"ok": 1} == snap.requests_by_outcome
    assert len(WORDS.split()) == snap.completion_tokens and snap.prompt_tokens > 0
    assert client.client.ledger.summary().committed > 0
    assert server.stats.succeeded == set(server.stats.request_ids)


async def test_a_stalled_stream_hits_the_idle_timeout(make_client: MakeClient, server: FakeTogetherServer) -> None:
    """Two chunks then 3 s of silence, with a 0.3 s idle timeout: APITimeoutError, one request, no retry."""
    client = build(make_client, server, stream_idle_timeout=0.3)
    server.script(Fault(kind="stream_stall", after_chunks=2, delay=3.0))
    with pytest.raises(APITimeoutError, match="TOGETHER_STREAM_IDLE_TIMEOUT"):
        await read_all(client)
    assert 1 == server.stats.total


async def test_a_cut_stream_raises_stream_error_without_retry(make_client: MakeClient,
                                                              server: FakeTogetherServer) -> None:
    """The server closes the connection after two chunks: StreamError after exactly one request."""
    client = build(make_client, server, max_retries=3)
    server.script(Fault(kind="stream_cut", after_chunks=2))
    with pytest.raises(StreamError):
        await read_all(client)
    assert 1 == server.stats.total
    assert client.client.ledger.summary().uncertain > 0


async def test_an_error_event_mid_stream_raises_server_error(make_client: MakeClient,
                                                             server: FakeTogetherServer) -> None:
    """A server_error event after two chunks raises ServerError (500) with the request id; no retry."""
    client = build(make_client, server, max_retries=3)
    server.script(Fault(kind="stream_error_event", after_chunks=2))
    with pytest.raises(ServerError) as info:
        await read_all(client)
    assert 500 == info.value.status_code
    assert info.value.request_id == server.stats.request_ids[0]
    assert 1 == server.stats.total


async def test_a_503_before_the_stream_is_retried_once(make_client: MakeClient, server: FakeTogetherServer) -> None:
    """A 503 answer, then a good stream: one retry, and the whole answer arrives."""
    client = build(make_client, server)
    server.script("server_error:503", "ok")
    assert WORDS == (await read_all(client))[0]
    assert 2 == server.stats.total
    assert 1 == len(client.sleeps)


async def test_a_thousand_early_breaks_leave_the_pool_serving(make_client: MakeClient,
                                                              server: FakeTogetherServer) -> None:
    """1000 streams left after one chunk with a bare break, through a 4-connection pool; then the pool still serves.

    The streams stay referenced (as a caller keeping them would), so garbage collection cannot close them for us.
    """
    client = build(make_client, server, max_connections=4, max_keepalive_connections=4, timeout=10.0)
    kept: list[Stream | AsyncStream] = []
    for _ in range(1000):
        stream = await open_stream(client)
        kept.append(stream)
        if isinstance(stream, AsyncStream):
            async for _chunk in stream:
                break
        else:
            for _chunk in stream:
                break
    assert WORDS == (await read_all(client))[0]
    assert USER[0]["content"] == (await client.create(messages=USER)).choices[0].message.content
    assert 1002 == server.stats.total
    assert all(s.response.is_closed for s in kept)
    assert 1000 == client.client.metrics.snapshot().requests_by_outcome["abandoned"]
