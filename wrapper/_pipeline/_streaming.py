"""Streaming: SSE events -> typed chunks (httpx-sse), usage capture, idle timeout and deadline; sync and async.

How a stream is settled (the decisions live in :class:`StreamState` and :class:`~wrapper._pipeline._call.Call`):

* Before the first event an attempt is an ordinary attempt: a non-2xx status, a transport error, a body that
  ends, an unparseable event or an ``{"error": ...}`` event go through ``Call.failed_with`` and are retried per
  policy. Nothing has reached the caller yet, so a retry cannot duplicate output.
* From the first chunk on nothing is retried. ``[DONE]`` is a success: breaker success, the final chunk's
  ``usage`` to the ledger and metrics (no usage: the estimate, as for a plain answer without usage).
* A mid-stream error event raises the typed error its ``type`` maps to (``server_error`` -> ServerError 500,
  ``invalid_request_error`` -> BadRequestError 400, ``dynamic_*_limited`` -> RateLimitError 429, ...; a numeric
  ``status``/``code`` wins); an unknown type raises :class:`StreamError` whose message names type and code.
  The status is the one the same error would have had before the stream began.
* A cut (connection error, or the body ends without ``[DONE]``) raises :class:`StreamError`; the breaker counts
  it as the connection failure it is. Silence longer than ``stream_idle_timeout`` (the request's read timeout)
  raises :class:`APITimeoutError`, also counted. ``stream_deadline`` is checked with the injected clock between
  events (so it can overrun by up to one idle timeout) and raises APITimeoutError without counting: the
  server was healthy, the caller's time ran out. Any early end charges the usage when the final chunk came,
  else the estimate as an uncertain charge.
* Leaving early (``break``, an exception in the loop body, ``close()``) closes the response, frees a half-open
  probe slot and charges the estimate as uncertain. Iteration runs in a generator whose ``finally`` does this,
  so a plain ``break`` is enough for :class:`Stream`; an abandoned async generator is closed by the event loop
  soon after, so prefer ``async with`` for :class:`AsyncStream` to close at once.
* After ``[DONE]`` the rest of the body is read (it is only the end of the chunked encoding) so that the
  connection goes back to the pool instead of being closed.

The decisions are in :mod:`wrapper._pipeline._stream_core` (pure); this module only reads events and closes responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Self

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from .._types import ChatCompletionChunk, ChatCompletionResponse, Usage
from ._call import Call, Done, Step
from ._stream_core import StreamState

__all__ = ["AsyncStream", "Stream"]


class _StreamBase:
    """What both stream kinds expose besides iteration."""

    def __init__(self, state: StreamState, response: httpx.Response) -> None:
        self._state = state
        self._response = response

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


def _first_data(events: Iterator[ServerSentEvent]) -> ServerSentEvent | None:
    return next((sse for sse in events if sse.data), None)


async def _afirst_data(events: AsyncIterator[ServerSentEvent]) -> ServerSentEvent | None:
    async for sse in events:
        if sse.data:
            return sse
    return None


class Stream(_StreamBase):
    """A streamed chat completion: iterate it for :class:`ChatCompletionChunk` objects.

    Use it as a context manager (``with client.chat.completions.create(..., stream=True) as stream:``) or just
    iterate it; leaving the loop early closes the response either way.

    Raises (while iterating):
        APIStatusError: an error event mid-stream (a subclass per mapped status).
        StreamError: the stream was cut before ``[DONE]``, or was closed before and is read again.
        APITimeoutError: no event for ``stream_idle_timeout`` seconds, or ``stream_deadline`` passed.
    """

    def __init__(self, state: StreamState, response: httpx.Response, events: Iterator[ServerSentEvent]) -> None:
        super().__init__(state, response)
        self._events = events

    @classmethod
    def _open(cls, call: Call, response: httpx.Response) -> Step[Stream]:
        """Settle a streamed attempt up to its first event: Done(stream), Retry, or raise (closing the response)."""
        keep = False
        try:
            call.stream_opened(response.status_code, response.headers)
            if not 200 <= response.status_code < 300:
                return call.failed_with(call.status_error(response.status_code, response.headers, response.read()))
            state = StreamState(call)
            events = EventSource(response).iter_sse()
            try:
                step = state.first_event(_first_data(events))
            except SSEError as exc:
                return state.not_sse(exc)
            if isinstance(step, Done):
                keep = True
                return Done(cls(state, response, events))
            return step
        except httpx.HTTPError as exc:
            return call.transport_failed(exc)
        finally:
            if not keep:
                response.close()

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
        """Close the HTTP response; before ``[DONE]`` the stream is settled as abandoned (estimate charged)."""
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


class AsyncStream(_StreamBase):
    """A streamed chat completion: ``async for`` it for :class:`ChatCompletionChunk` objects.

    Prefer ``async with``: it closes the response the moment the block ends; an abandoned ``async for`` is closed
    by the event loop shortly after.

    Raises (while iterating):
        APIStatusError: an error event mid-stream (a subclass per mapped status).
        StreamError: the stream was cut before ``[DONE]``, or was closed before and is read again.
        APITimeoutError: no event for ``stream_idle_timeout`` seconds, or ``stream_deadline`` passed.
    """

    def __init__(self, state: StreamState, response: httpx.Response, events: AsyncIterator[ServerSentEvent]) -> None:
        super().__init__(state, response)
        self._events = events

    @classmethod
    async def _open(cls, call: Call, response: httpx.Response) -> Step[AsyncStream]:
        """Settle a streamed attempt up to its first event: Done(stream), Retry, or raise (closing the response)."""
        keep = False
        try:
            call.stream_opened(response.status_code, response.headers)
            if not 200 <= response.status_code < 300:
                return call.failed_with(call.status_error(response.status_code, response.headers,
                                                          await response.aread()))
            state = StreamState(call)
            events = EventSource(response).aiter_sse()
            try:
                step = state.first_event(await _afirst_data(events))
            except SSEError as exc:
                return state.not_sse(exc)
            if isinstance(step, Done):
                keep = True
                return Done(cls(state, response, events))
            return step
        except httpx.HTTPError as exc:
            return call.transport_failed(exc)
        finally:
            if not keep:
                await response.aclose()

    async def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        state = self._state
        try:
            first, state.pending = state.pending, None
            if first is not None:
                yield first
            elif not state.check_open():  # read again after the end: nothing more, or StreamError if cut short
                return
            if state.outcome is None:  # (not None here: the consumer closed the stream inside its loop)
                async for sse in self._events:
                    chunk = state.feed(sse)
                    if chunk is not None:
                        yield chunk
                        if state.outcome is not None:
                            return
                    elif state.finished:
                        break
                else:
                    raise state.ended()
                async for _ in self._events:  # the end of the body, so the connection can be reused
                    pass
        except httpx.HTTPError as exc:
            if not state.finished:
                raise state.broken(exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP response; before ``[DONE]`` the stream is settled as abandoned (estimate charged)."""
        self._state.abandon()
        await self._response.aclose()

    async def text(self) -> str:
        """Read the rest of the stream and return the whole content of choice 0."""
        async for _ in self:
            pass
        return self._state.text()

    async def final(self) -> ChatCompletionResponse:
        """Read the rest of the stream and return it as one response (content, tool calls, finish, usage)."""
        async for _ in self:
            pass
        return self._state.final()

    get_final_completion = final

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
