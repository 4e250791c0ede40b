"""Streaming: the opener (through the same decorator stack as every call) and the stream of typed chunks.

How a stream is settled (the decisions are in :class:`~wrapper._pipeline._stream_core.StreamState`):

* The *opener* is an endpoint like the generated ones: it sends the generated request model through the
  generated client's httpx client and reads up to the first event, under the attempt's total deadline. A non-2xx
  status, a transport error, a body that ends, an unparseable event or an ``{"error": ...}`` event before the
  first chunk fail the attempt, and the retry layer may repeat it. Nothing has reached the caller yet, so a retry
  cannot duplicate output.
* A 2xx answer in JSON instead of an event stream is a typed :class:`StreamError`, never retried; the usage in
  its body, if any, is charged.
* From the first chunk on nothing is retried. ``[DONE]`` is a success, charged from the final chunk's ``usage``.
  A mid-stream error event raises the typed error its ``type`` maps to; a cut raises :class:`StreamError`; silence
  longer than ``TOGETHER_STREAM_IDLE_TIMEOUT`` raises :class:`APITimeoutError`; ``TOGETHER_STREAM_DEADLINE`` is
  checked between events. An early end charges the usage when the final chunk came, else the worst case as an
  uncertain charge.
* Leaving early (``break``, an exception in the loop body, ``close()``) closes the response and charges the
  worst case as uncertain. Prefer ``async with`` for the async stream: it closes at once.
* After ``[DONE]`` the rest of the body is read so the connection goes back to the pool.

Generated from ``_async/_stream.py`` by ``scripts/generate_sync.py``: do not edit by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from types import TracebackType
from typing import Self

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError
from together_api_client.client import Client as GeneratedClient
from together_api_client.types import Response

from ..._errors import StreamError
from ..._types import ChatCompletionChunk, ChatCompletionResponse, Usage
from .._call import Call, PreparedRequest
from .._runtime import Runtime
from .._stream_core import StreamState

__all__ = ["Stream", "open_stream"]

_CHAT_PATH = "/chat/completions"


def _first_data(events: Iterator[ServerSentEvent]) -> ServerSentEvent | None:
    for sse in events:
        if sse.data:
            return sse
    return None


def open_stream(*, client: GeneratedClient, body: PreparedRequest, owner: Call,
                      rt: Runtime) -> Response[Stream]:
    """Send a streamed chat request and read up to its first event (an endpoint for the decorator stack).

    Returns:
        A generated ``Response`` whose ``parsed`` is the open stream (2xx), or None with the raw body (non-2xx).
    Raises:
        APIError: the first event was an error, unparseable, missing, or the answer was not an event stream.
        httpx.HTTPError: the transport failed (mapped by the stack).
    """
    http = client.get_httpx_client()
    request = http.build_request("POST", _CHAT_PATH, json=body.to_dict(), headers={"Accept": "text/event-stream"})
    response = http.send(request, stream=True)
    keep = False
    try:
        status = response.status_code
        if not 200 <= status < 300:
            return Response(status_code=HTTPStatus(status), content=response.read(), headers=response.headers,
                            parsed=None)
        if response.headers.get("content-type", "").startswith("application/json"):
            raise _json_answer(owner, response.read())
        state = StreamState(rt, owner)
        events = EventSource(response).iter_sse()
        try:
            state.first_event(_first_data(events))
        except SSEError as exc:
            raise state.not_sse(exc) from exc
        keep = True
        return Response(status_code=HTTPStatus(status), content=b"", headers=response.headers,
                        parsed=Stream(state, response, events))
    finally:
        if not keep:
            response.close()


def _json_answer(call: Call, content: bytes) -> StreamError:
    """A stream request answered with one JSON body: never retried; its usage, if any, is charged."""
    try:
        usage = ChatCompletionResponse.from_dict(json.loads(content)).usage
    except (ValueError, TypeError, KeyError, AttributeError):
        usage = None
    if isinstance(usage, Usage):
        call.usage = usage
    error = StreamError("Together answered a stream=True request with a JSON body instead of an event stream; "
                        "it was not retried (call without stream=True to get JSON)", request_id=call.request_id)
    error.should_retry = False
    return error


class Stream:
    """A streamed chat completion: iterate it for :class:`ChatCompletionChunk` objects.

    Use it as a context manager, or just iterate it; leaving the loop early closes the response either way.

    Raises (while iterating):
        APIStatusError: an error event mid-stream (a subclass per mapped status).
        StreamError: the stream was cut before ``[DONE]``, or was closed before and is read again.
        APITimeoutError: no event for ``stream_idle_timeout`` seconds, or ``stream_deadline`` passed.
    """

    def __init__(self, state: StreamState, response: httpx.Response, events: Iterator[ServerSentEvent]) -> None:
        self._state = state
        self._response = response
        self._events = events

    @property
    def usage(self) -> Usage | None:
        """Token usage from the final chunk (None before it arrived, or when Together sent none)."""
        return self._state.usage

    @property
    def request_id(self) -> str | None:
        """Together's ``x-request-id`` for this stream."""
        return self._state.call.request_id

    @property
    def response(self) -> httpx.Response:
        """The HTTP response (status and headers); its body belongs to the stream."""
        return self._response

    @property
    def finished(self) -> bool:
        """True once ``[DONE]`` was read."""
        return self._state.finished

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        state = self._state
        try:
            first, state.pending = state.pending, None
            if first is not None:
                yield first
            elif not state.check_open():  # read again after the end: nothing more, or StreamError if cut short
                return
            if state.outcome is None:  # (not None here: the consumer closed the stream inside its loop)
                for sse in self._events:
                    chunk = state.feed(sse)
                    if chunk is not None:
                        yield chunk
                        if state.outcome is not None:
                            return
                    elif state.finished:
                        break
                else:
                    raise state.ended()
                for _ in self._events:  # the end of the body, so the connection can be reused
                    pass
        except httpx.HTTPError as exc:
            if not state.finished:
                raise state.broken(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        """Close the HTTP response; before ``[DONE]`` the stream is settled as abandoned (worst case charged)."""
        self._state.abandon()
        self._response.close()

    def text(self) -> str:
        """Read the rest of the stream and return the whole content of choice 0."""
        for _ in self:
            pass
        return self._state.text()

    def final(self) -> ChatCompletionResponse:
        """Read the rest of the stream and return it as one response (content, tool calls, finish, usage)."""
        for _ in self:
            pass
        return self._state.final()

    get_final_completion = final

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()
