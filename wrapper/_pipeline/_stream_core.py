"""The pure side of a stream: SSE event -> typed chunk, mid-stream errors, the deadline, and settling the call once.

No I/O here: the stream shell (``_async/_stream.py``) reads the events (httpx-sse) and hands each one to
:class:`StreamState`, which returns a chunk, notes the end, or returns/raises the typed error after settling the
call through the runtime (see the shell's docstring for the rules).

Chunks are built by :func:`parse_chunk`: the generated ``from_dict`` spends most of its time defining closures
(about 3x ``json.loads`` per chunk), so chunks whose keys are all known and that hold no nested model besides the
delta are built with the generated constructors directly; anything else (tool-call pieces, logprobs objects, the
usage chunk, unknown keys) goes through ``from_dict``. Both give equal objects (``tests/contract/test_streaming``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import httpx
from httpx_sse import ServerSentEvent, SSEError

from .._error_map import error_from_response
from .._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    StreamError,
)
from .._transport import map_transport_error
from .._types import UNSET, ChatCompletionChunk, ChatCompletionResponse, ChunkChoice, ChunkDelta, Usage
from ._call import Call

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["StreamState", "error_event", "parse_chunk"]

_DONE = "[DONE]"
_CHUNK_KEYS = frozenset({"id", "object", "created", "model", "choices", "usage", "system_fingerprint"})
_CHOICE_KEYS = frozenset({"index", "delta", "finish_reason", "logprobs", "seed", "text"})
_DELTA_KEYS = frozenset({"role", "content", "reasoning", "token_id", "tool_calls"})
_STATUS_OF_TYPE = {
    "invalid_request_error": 400, "authentication_error": 401, "credit_limit": 429, "permission_error": 403,
    "not_found_error": 404, "dynamic_request_limited": 429, "dynamic_token_limited": 429,
    "rate_limit_exceeded": 429, "server_error": 500, "internal_server_error": 500, "overloaded": 503,
    "service_unavailable": 503, "timeout": 504,
}


def parse_chunk(data: Mapping[str, Any]) -> ChatCompletionChunk:
    """Type one event's JSON object as a chunk (fast path for the common shape, ``from_dict`` otherwise)."""
    if not _CHUNK_KEYS.issuperset(data) or isinstance(data.get("usage"), dict):
        return ChatCompletionChunk.from_dict(data)
    choices = []
    for c in data["choices"]:
        delta = c["delta"]
        if not (_CHOICE_KEYS.issuperset(c) and _DELTA_KEYS.issuperset(delta)) or delta.get("tool_calls") \
                or isinstance(c.get("logprobs"), dict):
            return ChatCompletionChunk.from_dict(data)
        get = delta.get  # positional: half the cost of keywords; field order is checked by test_streaming
        choices.append(ChunkChoice(
            c["index"],
            ChunkDelta(get("role", UNSET), get("content", UNSET), get("reasoning", UNSET), get("token_id", UNSET),
                       get("tool_calls", UNSET)),
            c.get("finish_reason", UNSET), c.get("logprobs", UNSET), c.get("seed", UNSET), c.get("text", UNSET),
        ))  # fmt: skip
    return ChatCompletionChunk(data["id"], data["created"], data["model"], choices, data.get("object", UNSET),
                               data.get("system_fingerprint", UNSET), data.get("usage", UNSET))


def error_event(body: Mapping[str, Any], request_id: str | None) -> APIError:
    """The typed error for an ``{"error": {...}}`` event (see the module docstring for the mapping)."""
    err = body.get("error", body)
    err = {"message": err} if isinstance(err, str) else err if isinstance(err, dict) else {}
    status = next((v for v in (err.get("status"), err.get("code")) if isinstance(v, int) and 400 <= v < 600), None)
    status = status or _STATUS_OF_TYPE.get(str(err.get("type")))
    if status is None:
        return StreamError(f"Together sent an error event mid-stream (type={err.get('type')!r}, "
                           f"code={err.get('code')!r}): {err.get('message') or 'no message'}", request_id=request_id)
    headers = {"x-request-id": request_id} if request_id else {}
    return error_from_response(status, headers, json.dumps({"error": err}).encode())


@attrs.define(eq=False)
class _Choice:
    """What one choice index has accumulated so far."""

    parts: list[str] = attrs.Factory(list)
    reasoning: list[str] = attrs.Factory(list)
    role: str | None = None
    finish_reason: str | None = None
    tools: dict[int, dict[str, Any]] = attrs.Factory(dict)

    def merge_tools(self, calls: list[Any]) -> None:
        for n, call in enumerate(calls):
            index = call.index if isinstance(call.index, int) else n
            tool = self.tools.setdefault(index, {"index": index, "id": "", "type": "function", "name": "", "args": []})
            for key, value in (("id", call.id), ("type", call.type_)):
                if isinstance(value, str):
                    tool[key] = value
            if not isinstance(call.function, type(UNSET)):
                tool["name"] = call.function.name if isinstance(call.function.name, str) else tool["name"]
                if isinstance(call.function.arguments, str):
                    tool["args"].append(call.function.arguments)

    def message(self) -> dict[str, Any]:
        calls = [{"index": t["index"], "id": t["id"], "type": t["type"],
                  "function": {"name": t["name"], "arguments": "".join(t["args"])}} for t in self.tools.values()]
        content = "".join(self.parts) if self.parts or not calls else None
        message: dict[str, Any] = {"role": self.role or "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        if self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
        return message


class StreamState:
    """The pure side of one stream: each event in, a chunk (or the end, or a typed error) out; settles once.

    Before the first event it only judges (errors are raised for the retry loop, which records them); from the
    first chunk on it settles the call through the runtime, exactly once.
    """

    def __init__(self, rt: Runtime, call: Call) -> None:
        self.rt = rt
        self.call = call
        self._clock = rt.clock
        deadline = rt.settings.stream_deadline
        self._deadline_at = None if deadline is None else call.started + deadline
        self.pending: ChatCompletionChunk | None = None  # the first chunk, read while the call could still retry
        self.first: ChatCompletionChunk | None = None
        self.usage: Usage | None = None
        self.outcome: str | None = None  # None while open; then "done", "failed" or "abandoned"
        self._choices: dict[int, _Choice] = {}

    def first_event(self, sse: ServerSentEvent | None) -> None:
        """Judge the first data event (None: the body ended first). A chunk opens the stream; anything else
        raises the typed error of a failed attempt, which the retry policy may repeat."""
        if sse is None:
            raise APIConnectionError("the stream ended before its first event", sent=True)
        self.pending = self._parse(sse)  # raises APIError: an error event or an unparseable one
        if self.outcome == "done":
            self._done()

    @staticmethod
    def not_sse(exc: SSEError) -> APIError:
        """A 2xx answer that is not an event stream: an unusable answer, retried per policy."""
        return APIResponseValidationError(str(exc), status_code=200, body="")

    def feed(self, sse: ServerSentEvent) -> ChatCompletionChunk | None:
        """One event after the first: its chunk, or None for ``[DONE]`` (``finished`` turns true) or no data."""
        try:
            chunk = self._parse(sse)
        except APIError as exc:
            raise self._fail(exc, breaker=exc) from None
        if self.outcome == "done":
            self._done()
        elif self._deadline_at is not None and self._clock() > self._deadline_at:
            deadline = self.rt.settings.stream_deadline
            raise self._fail(APITimeoutError(f"the stream ran past its {deadline}s deadline (TOGETHER_STREAM_"
                                             "DEADLINE)", sent=True), breaker=None)
        return chunk

    @property
    def finished(self) -> bool:
        """True once ``[DONE]`` was read."""
        return self.outcome == "done"

    def ended(self) -> APIError:
        """The body ended without ``[DONE]``: the error to raise."""
        cause = APIConnectionError("the connection closed before [DONE]", sent=True)
        return self._fail(StreamError("the stream ended before [DONE]: the answer is incomplete"), breaker=cause)

    def broken(self, exc: httpx.HTTPError) -> APIError:
        """The connection failed mid-stream: the error to raise (an idle timeout or a cut)."""
        if isinstance(exc, httpx.ReadTimeout):
            idle = self.rt.settings.stream_idle_timeout
            err: APIError = APITimeoutError(f"no stream event for {idle}s (TOGETHER_STREAM_IDLE_TIMEOUT)", sent=True)
            return self._fail(err, breaker=err)
        err = StreamError(f"the stream broke before [DONE] ({type(exc).__name__}: {exc})")
        return self._fail(err, breaker=map_transport_error(exc))

    def abandon(self) -> None:
        """The consumer left before the end: settle (no-op once settled)."""
        if self.outcome is not None:
            return
        self.outcome = "abandoned"
        if self.usage is not None:  # the final chunk arrived: the answer is whole, only [DONE] was not read
            self.rt.stream_done(self.call, self.usage)
            return
        self.rt.breakers.get(self.call.key).release()
        self.rt.stream_cut(self.call, StreamError("the stream was closed before [DONE]",
                                                  request_id=self.call.request_id), None, "abandoned")

    def check_open(self) -> bool:
        """Whether events may still be read; raises StreamError for a stream that was closed early."""
        if self.outcome in ("failed", "abandoned"):
            raise StreamError(f"the stream was closed before [DONE] ({self.outcome})", request_id=self.call.request_id)
        return self.outcome is None

    def text(self) -> str:
        """The content accumulated for choice 0."""
        choice = self._choices.get(0)
        return "".join(choice.parts) if choice is not None else ""

    def final(self) -> ChatCompletionResponse:
        """A response assembled from the chunks: content, tool calls, finish reasons and usage."""
        first = self.first
        choices = [{"index": i, "message": c.message(), "finish_reason": c.finish_reason}
                   for i, c in sorted(self._choices.items())]
        body: dict[str, Any] = {
            "id": first.id if first else self.call.request_id or "", "object": "chat.completion",
            "created": first.created if first else 0, "model": first.model if first else self.call.model,
            "choices": choices,
        }  # fmt: skip
        if self.usage is not None:
            body["usage"] = self.usage.to_dict()
        return ChatCompletionResponse.from_dict(body)

    def _done(self) -> None:
        self.rt.stream_done(self.call, self.usage)

    def _fail(self, error: APIError, *, breaker: BaseException | None) -> APIError:
        """Settle a stream that broke after its first event; the breaker records ``breaker`` (None: nothing)."""
        self.outcome = "failed"
        board = self.rt.breakers.get(self.call.key)
        if breaker is None:
            board.release()
        else:
            board.record_failure(breaker)
        self.rt.stream_cut(self.call, error, self.usage, "error")
        return error

    def _parse(self, sse: ServerSentEvent) -> ChatCompletionChunk | None:
        data = sse.data
        if data == _DONE:
            self.outcome = "done"
            return None
        if not data:
            return None
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise TypeError("not a JSON object")
            failed = "error" in body or sse.event == "error"
            chunk = None if failed else parse_chunk(body)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise APIResponseValidationError(f"could not parse a stream event ({type(exc).__name__}: {exc})",
                                             status_code=200, body=data[:2000],
                                             request_id=self.call.request_id) from exc
        if chunk is None:
            raise error_event(body, self.call.request_id)
        self._accumulate(chunk)
        return chunk

    def _accumulate(self, chunk: ChatCompletionChunk) -> None:
        if self.first is None:
            self.first = chunk
        if isinstance(chunk.usage, Usage):
            self.usage = chunk.usage
        for choice in chunk.choices:
            acc = self._choices.get(choice.index)
            if acc is None:
                acc = self._choices[choice.index] = _Choice()
            delta = choice.delta
            if isinstance(delta.content, str):
                acc.parts.append(delta.content)
            if isinstance(delta.reasoning, str):
                acc.reasoning.append(delta.reasoning)
            if isinstance(delta.role, str):
                acc.role = delta.role
            if isinstance(choice.finish_reason, str):
                acc.finish_reason = choice.finish_reason
            if delta.tool_calls:
                acc.merge_tools(delta.tool_calls)
