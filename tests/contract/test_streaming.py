"""Both clients' ``create(..., stream=True)`` against pytest-httpx: framing, the end, errors, retries, charges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from tests import bodies
from tests.conftest import CHAT_URL, USER, Both, MakeClient, test_settings
from wrapper import (
    APITimeoutError,
    AsyncClient,
    AsyncStream,
    BadRequestError,
    ChatCompletionChunk,
    ChatCompletionResponse,
    Client,
    RateLimitError,
    ServerError,
    Stream,
    StreamError,
    Usage,
)
from wrapper._pipeline._stream_core import parse_chunk

NO_RETRY = test_settings(max_retries=0)
SSE = {"content-type": "text/event-stream; charset=utf-8", "x-request-id": "req-s1"}
MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
AnyStream = Stream | AsyncStream


def event(data: dict[str, Any] | str) -> bytes:
    """One SSE event: ``data: <json>`` and a blank line."""
    return b"data: " + (data if isinstance(data, str) else json.dumps(data)).encode() + b"\n\n"


def good_stream(*texts: str) -> bytes:
    """Content chunks, the final usage chunk and ``[DONE]``, as Together sends them."""
    return b"".join([*(event(bodies.chunk(t)) for t in texts), event(bodies.chunk("", last=True)), event("[DONE]")])


def add_stream(httpx_mock: HTTPXMock, pieces: list[bytes] | Iterator[bytes], **headers: str) -> None:
    httpx_mock.add_response(url=CHAT_URL, stream=IteratorStream(pieces), headers={**SSE, **headers})


async def open_stream(client: Both, **kwargs: Any) -> AnyStream:
    """``create(..., stream=True)`` on either client."""
    kwargs.setdefault("messages", USER)
    stream: AnyStream
    if isinstance(client.client, AsyncClient):
        stream = await client.client.chat.completions.create(stream=True, **kwargs)
    else:
        stream = client.client.chat.completions.create(stream=True, **kwargs)
    return stream


async def collect(stream: AnyStream) -> list[ChatCompletionChunk]:
    if isinstance(stream, AsyncStream):
        async with stream:
            return [chunk async for chunk in stream]
    with stream:
        return list(stream)


async def text(stream: AnyStream) -> str:
    return await stream.text() if isinstance(stream, AsyncStream) else stream.text()


async def final(stream: AnyStream) -> ChatCompletionResponse:
    return await stream.final() if isinstance(stream, AsyncStream) else stream.final()


async def read_one_then_leave(stream: AnyStream) -> ChatCompletionChunk:
    """Read one chunk and leave the loop (``with``/``async with`` around it)."""
    if isinstance(stream, AsyncStream):
        async with stream:
            async for chunk in stream:
                return chunk
    else:
        with stream:
            for chunk in stream:
                return chunk
    raise AssertionError("no chunk")


def contents(chunks: list[ChatCompletionChunk]) -> list[Any]:
    return [c.choices[0].delta.content for c in chunks]


def typed_client_usage() -> None:
    """Not a test: mypy checks that the overloads give each call its precise type."""
    client = Client(test_settings())
    stream: Stream = client.chat.completions.create(messages=USER, stream=True)
    reply: ChatCompletionResponse = client.chat.completions.create(messages=USER)
    assert stream is not None and reply is not None


async def typed_async_client_usage() -> None:
    """Not a test: the same for AsyncClient."""
    client = AsyncClient(test_settings())
    stream: AsyncStream = await client.chat.completions.create(messages=USER, stream=True)
    reply: ChatCompletionResponse = await client.chat.completions.create(messages=USER)
    assert stream is not None and reply is not None


async def test_chunks_are_typed_and_the_request_asks_for_a_stream(make_client: MakeClient,
                                                                  httpx_mock: HTTPXMock) -> None:
    """Each event becomes a typed chunk; the body says stream: true and the request accepts text/event-stream."""
    add_stream(httpx_mock, [good_stream("The", " capital", " is Paris.")])
    client = make_client()
    stream = await open_stream(client, max_tokens=16)
    chunks = await collect(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert ["The", " capital", " is Paris.", ""] == contents(chunks)
    assert "eos" == chunks[-1].choices[0].finish_reason
    assert stream.finished and "req-s1" == stream.request_id
    assert stream.usage is not None and 15 == stream.usage.total_tokens
    request = httpx_mock.get_requests()[0]
    assert json.loads(request.content)["stream"] is True
    assert "text/event-stream" == request.headers["accept"]
    assert 30.0 == request.extensions["timeout"]["read"]  # the idle timeout, TOGETHER_STREAM_IDLE_TIMEOUT


async def test_events_split_across_network_reads(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Events, lines, CRLF endings and a multi-byte character cut across 5-byte reads still parse the same."""
    body = good_stream("Paris, café ☕", " et", " fin").replace(b"\n", b"\r\n")
    add_stream(httpx_mock, [body[i:i + 5] for i in range(0, len(body), 5)])
    chunks = await collect(await open_stream(make_client()))
    assert ["Paris, café ☕", " et", " fin", ""] == contents(chunks)


async def test_comments_blank_lines_and_empty_events_are_skipped(make_client: MakeClient,
                                                                 httpx_mock: HTTPXMock) -> None:
    """SSE comments, extra blank lines, ``event:``/``id:``-only events and empty data yield no chunk."""
    noise = b": keep-alive\n\n\n\nevent: ping\n\nid: 7\ndata:\n\n"
    add_stream(httpx_mock, [noise, event(bodies.chunk("Hi")), noise, event(bodies.chunk("", last=True)), noise,
                            event("[DONE]")])
    stream = await open_stream(make_client())
    assert ["Hi", ""] == contents(await collect(stream))
    assert stream.finished


async def test_done_ends_the_stream_and_later_events_are_ignored(make_client: MakeClient,
                                                                 httpx_mock: HTTPXMock) -> None:
    """Nothing after ``[DONE]`` becomes a chunk or an error, and the response is closed."""
    add_stream(httpx_mock, [good_stream("a"), event(bodies.chunk("late")), b"data: {not json\n\n"])
    stream = await open_stream(make_client())
    assert "a" == await text(stream)
    assert stream.response.is_closed


@pytest.mark.parametrize(("type_", "expected", "status"), [
    ("server_error", ServerError, 500), ("invalid_request_error", BadRequestError, 400),
    ("dynamic_token_limited", RateLimitError, 429), ("mystery_error", StreamError, None),
])  # fmt: skip
async def test_mid_stream_error_event_raises_the_typed_error(make_client: MakeClient, httpx_mock: HTTPXMock,
                                                             type_: str, expected: type[Exception],
                                                             status: int | None) -> None:
    """An error event after a chunk raises the error its type maps to, is never retried, and keeps the estimate."""
    add_stream(httpx_mock, [event(bodies.chunk("Par")), event(bodies.error("model crashed", type_, "boom"))])
    client = make_client()
    stream = await open_stream(client)
    with pytest.raises(expected) as info:
        await collect(stream)
    assert status == getattr(info.value, "status_code", None)
    assert "req-s1" == info.value.request_id  # type: ignore[attr-defined]
    assert 1 == len(httpx_mock.get_requests())
    assert client.client.ledger.summary().uncertain > 0
    assert stream.response.is_closed


async def test_body_ending_without_done_raises_stream_error(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A body that ends after two chunks (no [DONE]) raises StreamError, counts on the breaker, charges uncertain."""
    add_stream(httpx_mock, [event(bodies.chunk("a")), event(bodies.chunk("b"))])
    client = make_client()
    stream = await open_stream(client)
    with pytest.raises(StreamError, match="before \\[DONE\\]"):
        await text(stream)
    assert 1 == len(httpx_mock.get_requests())
    assert 1 == client.client._rt.breakers.get(MODEL).failure_count
    assert {"uncertain": 1} == client.client.metrics.snapshot().requests_by_outcome


async def test_connection_cut_mid_stream_raises_stream_error(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A transport error after the first chunk raises StreamError (an APIError), chained to the httpx error."""
    def pieces() -> Iterator[bytes]:
        yield event(bodies.chunk("a"))
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    add_stream(httpx_mock, pieces())
    stream = await open_stream(make_client())
    with pytest.raises(StreamError) as info:
        await collect(stream)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert 1 == len(httpx_mock.get_requests())


async def test_idle_timeout_mid_stream_raises_api_timeout(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A read timeout between events (the idle timeout) raises APITimeoutError, also a TimeoutError; no retry."""
    def pieces() -> Iterator[bytes]:
        yield event(bodies.chunk("a"))
        raise httpx.ReadTimeout("timed out")

    add_stream(httpx_mock, pieces())
    client = make_client(test_settings(stream_idle_timeout=0.5))
    stream = await open_stream(client)
    with pytest.raises(TimeoutError) as info:
        await collect(stream)
    assert isinstance(info.value, APITimeoutError) and "0.5s" in str(info.value)
    assert 0.5 == httpx_mock.get_requests()[0].extensions["timeout"]["read"]
    assert 1 == len(httpx_mock.get_requests())
    assert 1 == client.client._rt.breakers.get(MODEL).failure_count


async def test_total_deadline_is_checked_with_the_injected_clock(make_client: MakeClient,
                                                                 httpx_mock: HTTPXMock) -> None:
    """Past ``stream_deadline`` on the injected clock the next event raises APITimeoutError; the breaker ignores it."""
    now = [1000.0]

    def pieces() -> Iterator[bytes]:
        yield event(bodies.chunk("a"))
        now[0] += 11.0
        yield event(bodies.chunk("b"))
        yield good_stream("c")

    add_stream(httpx_mock, pieces())
    client = make_client(test_settings(stream_deadline=10.0), _clock=lambda: now[0])
    stream = await open_stream(client)
    with pytest.raises(APITimeoutError, match="deadline"):
        await collect(stream)
    assert 0 == client.client._rt.breakers.get(MODEL).failure_count


async def test_503_before_the_first_event_is_retried(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 503 answer to the stream request is retried once, then the good stream is read whole."""
    httpx_mock.add_response(url=CHAT_URL, status_code=503, content=bodies.HTML_503)
    add_stream(httpx_mock, [good_stream("ok")])
    client = make_client()
    stream = await open_stream(client)
    assert "ok" == await text(stream)
    assert 2 == len(httpx_mock.get_requests())
    assert 1 == len(client.sleeps)


async def test_failures_before_the_first_event_are_retried(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """An error event as the first event, and a body that ends before any event, are retried like failed attempts."""
    add_stream(httpx_mock, [event(bodies.error("overloaded", "server_error"))])
    add_stream(httpx_mock, [b": nothing yet\n\n"])
    add_stream(httpx_mock, [good_stream("third time")])
    client = make_client()
    assert "third time" == await text(await open_stream(client))
    assert 3 == len(httpx_mock.get_requests())
    assert 2 == len(client.sleeps)


async def test_no_retry_after_the_first_event(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A stream cut after two chunks raises StreamError after exactly one request, even with retries allowed."""
    add_stream(httpx_mock, [event(bodies.chunk("a")), event(bodies.chunk("b"))])
    client = make_client(test_settings(max_retries=5))
    stream = await open_stream(client)
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(StreamError):
        if isinstance(stream, AsyncStream):
            async for chunk in stream:
                seen.append(chunk)
        else:
            seen.extend(stream)
    assert 2 == len(seen)
    assert 1 == len(httpx_mock.get_requests()) and [] == client.sleeps


async def test_usage_reaches_the_ledger_and_metrics(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """The final chunk's usage is charged at the model's price and counted in the metrics; nothing is uncertain."""
    add_stream(httpx_mock, [good_stream("Paris.")])
    client = make_client()
    await text(await open_stream(client))
    ledger = client.client.ledger
    price = ledger.price_of(MODEL)
    assert price is not None
    assert price.cost(10, 5) == ledger.summary().committed
    assert Decimal(0) == ledger.summary().uncertain
    snap = client.client.metrics.snapshot()
    assert (10, 5, {"ok": 1}) == (snap.prompt_tokens, snap.completion_tokens, snap.requests_by_outcome)
    rows = [r for r in ledger.rows(run_id=ledger.run_id) if r.outcome == "ok"]
    assert [("req-s1", 10, 5)] == [(r.request_id, r.prompt_tokens, r.completion_tokens) for r in rows]


async def test_stream_without_usage_is_charged_the_estimate(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A stream that reaches [DONE] without a usage chunk is a success charged at its estimate."""
    add_stream(httpx_mock, [event(bodies.chunk("a")), event("[DONE]")])
    client = make_client()
    stream = await open_stream(client, max_tokens=50)
    assert "a" == await text(stream)
    assert stream.usage is None
    committed = client.client.ledger.summary().committed
    price = client.client.ledger.price_of(MODEL)
    assert price is not None and committed >= price.cost(0, 50)
    assert {"ok": 1} == client.client.metrics.snapshot().requests_by_outcome


async def test_leaving_early_closes_and_charges_the_estimate(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Leaving the loop after one chunk closes the response and settles the call as abandoned (uncertain charge)."""
    add_stream(httpx_mock, [event(bodies.chunk("first")), event(bodies.chunk("second")), good_stream("rest")])
    client = make_client()
    stream = await open_stream(client)
    assert "first" == (await read_one_then_leave(stream)).choices[0].delta.content
    assert stream.response.is_closed and not stream.finished
    assert client.client.ledger.summary().uncertain > 0
    assert {"abandoned": 1} == client.client.metrics.snapshot().requests_by_outcome
    with pytest.raises(StreamError, match="closed before"):
        await text(stream)  # reading a closed stream again never looks complete


def test_plain_break_closes_the_sync_stream(httpx_mock: HTTPXMock) -> None:
    """A bare ``for ... break`` (no ``with``) closes a sync stream's response at once."""
    add_stream(httpx_mock, [event(bodies.chunk("first")), good_stream("rest")])
    with Client(test_settings(), transport=httpx.HTTPTransport()) as client:
        stream = client.chat.completions.create(messages=USER, stream=True)
        for _ in stream:
            break
        assert stream.response.is_closed


async def test_exception_in_the_consumer_closes_the_stream(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """An exception raised in the loop body closes the response and settles the call."""
    add_stream(httpx_mock, [good_stream("a", "b")])
    client = make_client()
    stream = await open_stream(client)
    with pytest.raises(KeyError):
        if isinstance(stream, AsyncStream):
            async with stream:
                async for _ in stream:
                    raise KeyError("consumer bug")
        else:
            with stream:
                for _ in stream:
                    raise KeyError("consumer bug")
    assert stream.response.is_closed
    assert {"abandoned": 1} == client.client.metrics.snapshot().requests_by_outcome


@pytest.mark.parametrize("at", [1, 2])
async def test_closing_inside_the_loop_ends_it_quietly(make_client: MakeClient, httpx_mock: HTTPXMock,
                                                       at: int) -> None:
    """close()/aclose() in the loop body at chunk ``at`` ends the loop without an httpx error; a later read raises."""
    add_stream(httpx_mock, [event(bodies.chunk("a")), event(bodies.chunk("b")), good_stream("c")])
    stream = await open_stream(make_client())
    seen = 0
    if isinstance(stream, AsyncStream):
        async for _ in stream:
            seen += 1
            if seen == at:
                await stream.aclose()
    else:
        for _ in stream:
            seen += 1
            if seen == at:
                stream.close()
    assert at == seen and stream.response.is_closed
    with pytest.raises(StreamError):
        await text(stream)


async def test_abandoning_the_half_open_probe_frees_its_slot(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A probe stream left early releases the half-open slot: the next call is admitted, not refused."""
    now = [0.0]
    client = make_client(test_settings(max_retries=0, breaker_failures=1, breaker_recovery=5.0), _clock=lambda: now[0])
    httpx_mock.add_response(url=CHAT_URL, status_code=500, json=bodies.error("down", "server_error"))
    with pytest.raises(ServerError):
        await client.create()
    now[0] += 6.0  # recovery passed: half-open, one probe allowed
    add_stream(httpx_mock, [event(bodies.chunk("probe")), good_stream("rest")])
    await read_one_then_leave(await open_stream(client))
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    assert "Paris." == (await client.create()).choices[0].message.content


async def test_final_assembles_content_finish_reason_and_usage(make_client: MakeClient,
                                                               httpx_mock: HTTPXMock) -> None:
    """final() returns one ChatCompletionResponse built from the chunks."""
    add_stream(httpx_mock, [good_stream("The capital", " is", " Paris.")])
    reply = await final(await open_stream(make_client()))
    assert isinstance(reply, ChatCompletionResponse)
    assert "The capital is Paris." == reply.choices[0].message.content
    assert ("assistant", "eos") == (reply.choices[0].message.role, reply.choices[0].finish_reason)
    assert isinstance(reply.usage, Usage) and (10, 5) == (reply.usage.prompt_tokens, reply.usage.completion_tokens)
    assert "chat.completion" == reply.object_


async def test_final_joins_tool_call_pieces(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Tool-call id, name and argument pieces spread over chunks come back as one tool call."""
    pieces = [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
              {"index": 0, "function": {"arguments": '{"city": '}}, {"index": 0, "function": {"arguments": '"Paris"}'}}]
    events = []
    for piece in pieces:
        body = bodies.chunk(None)
        body["choices"][0]["delta"]["tool_calls"] = [piece]
        events.append(event(body))
    last = bodies.chunk(None, last=True)
    last["choices"][0]["finish_reason"] = "tool_calls"
    add_stream(httpx_mock, [*events, event(last), event("[DONE]")])
    reply = await final(await open_stream(make_client()))
    message = reply.choices[0].message
    assert message.content is None and isinstance(message.tool_calls, list)
    call = message.tool_calls[0]
    assert ("call_1", "get_weather", '{"city": "Paris"}') == (call.id, call.function.name, call.function.arguments)
    assert "tool_calls" == reply.choices[0].finish_reason


async def test_a_json_answer_to_a_stream_request_is_a_typed_error_not_retried_and_charged(
        make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 2xx JSON body answering stream=True raises StreamError once (no retry) and charges the usage it reports."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())  # one answer: a retry would find none
    client = make_client(test_settings(max_retries=3, max_estimated_cost="1.00"))
    with pytest.raises(StreamError, match="JSON body instead of an event stream"):
        await open_stream(client)
    assert 1 == len(httpx_mock.get_requests())
    usage = bodies.completion()["usage"]
    price = Decimal("0.80")  # the built-in price of the default model, in and out
    expected = (usage["prompt_tokens"] * price + usage["completion_tokens"] * price) / 1_000_000
    assert expected == client.client.ledger.summary().committed


EVERY_FIELD = {  # each field of the fast path set to a distinct value, so a field-order slip cannot hide
    "id": "i", "object": "chat.completion.chunk", "created": 1, "model": "m", "system_fingerprint": "fp",
    "usage": None, "choices": [{"index": 0, "finish_reason": "stop", "logprobs": 0.5, "seed": 42, "text": "t",
                                "delta": {"role": "assistant", "content": "c", "reasoning": "r", "token_id": 7,
                                          "tool_calls": None}}],
}


@pytest.mark.parametrize("data", [
    bodies.chunk("hello"), bodies.chunk(None), bodies.chunk("", last=True),
    {**bodies.chunk("x"), "warnings": [{"message": "w"}]}, {**bodies.chunk("x"), "system_fingerprint": "fp"},
    {**bodies.chunk("x"), "choices": [{**bodies.chunk("x")["choices"][0], "logprobs": 0.5, "extra": 1}]},
    {**bodies.chunk("x"), "choices": []}, EVERY_FIELD,
])  # fmt: skip
def test_fast_chunk_parsing_equals_the_generated_from_dict(data: dict[str, Any]) -> None:
    """parse_chunk's fast path builds exactly what the generated ChatCompletionChunk.from_dict builds."""
    assert ChatCompletionChunk.from_dict(data) == parse_chunk(data)
