"""The pure core of a call: prepare it, settle each attempt, decide what comes next.

Both clients drive the same :class:`Call`; they only wait (limiter, retry sleep)
and do the I/O. Nothing here sleeps, awaits or touches a socket.

Why the shells do not call the generated ``sync_detailed``/``asyncio_detailed``:
those parse every documented status with ``response.json()``, which raises on
Together's HTML 503 pages and drops the headers we need (request id, rate-limit
hints). We use the generated request builder and models instead: the route (method,
path, headers) comes from ``create_chat_completion._get_kwargs`` and the answer
is parsed with ``ChatCompletionResponse.from_dict`` here, so the same request
serves the SSE stream too. Nested request fields (tools, response_format, ...)
are checked by the generated ``ChatCompletionRequest`` model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
from together_api_client.api.chat import create_chat_completion
from together_api_client.models.chat_completion_request import ChatCompletionRequest

from .._errors import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    RequestValidationError,
    StreamError,
    error_from_response,
)
from .._ledger._estimator import Estimate
from .._ledger._ledger import Reservation
from .._observe._events import RateLimited
from .._policies._breaker import ModelBreaker
from .._policies._retry import RetryState, parse_retry_after, should_retry_header
from .._types import ChatCompletionResponse
from ._outcomes import Done, Retry, Step, is_uncertain, map_transport_error, parse_completion
from ._runtime import Runtime
from ._validate import build_body

__all__ = ["Call", "Done", "Retry", "Step", "map_transport_error", "parse_completion", "prepare"]

# The generated builder's method, path and headers for the chat route, read once: building a typed request and
# turning it back into a dict on every call cost more than everything else we add (see benchmarks/).
_ROUTE: dict[str, Any] = create_chat_completion._get_kwargs(body=ChatCompletionRequest(model="", messages=[]))
_NESTED = frozenset({"tools", "tool_choice", "response_format", "function_call", "reasoning"})


@attrs.define(eq=False)
class Call:
    """One ``create`` call: its request, reservation and retry state, shared by every attempt."""

    rt: Runtime
    model: str
    request: dict[str, Any]
    estimate: Estimate
    reservation: Reservation
    retry: RetryState
    stream: bool = False
    attempts: int = 0
    request_id: str | None = None
    _started: float = 0.0
    _breaker: ModelBreaker = attrs.field(init=False)
    _in_flight: bool = False  # this call holds an admitted attempt (maybe the half-open probe)

    def __attrs_post_init__(self) -> None:
        self._breaker = self.rt.breakers.get(self.model)

    @property
    def started(self) -> float:
        """Clock reading when the current attempt was admitted (the start of a stream's deadline)."""
        return self._started

    @property
    def tokens(self) -> int:
        """Estimated tokens of this request (prompt + max completion), the limiter's weight."""
        return int(self.estimate.prompt_tokens + self.estimate.max_completion_tokens)

    def begin_attempt(self, waited: float) -> None:
        """Called after the limiter admitted the attempt: guard the breaker (no I/O when open)."""
        self._breaker.guard()  # raises CircuitOpenError: never retried
        self._in_flight = True
        self.attempts += 1
        if waited > 0:
            self.rt.metrics.observe_wait(waited)
        self._started = self.rt.clock()

    def answered(self, status_code: int, headers: Mapping[str, str], content: bytes) -> Step[ChatCompletionResponse]:
        """Settle an attempt that got an HTTP answer."""
        self.request_id = headers.get("x-request-id") or self.request_id
        self.rt.observe_headers(status_code, headers)
        if 200 <= status_code < 300:
            try:
                result = parse_completion(status_code, headers, content)
            except APIResponseValidationError as exc:
                return self.failed_with(exc)
            self._succeeded(status_code, result.usage)
            return Done(result)
        return self.failed_with(self.status_error(status_code, headers, content))

    def status_error(self, status_code: int, headers: Mapping[str, str], content: bytes) -> APIStatusError:
        """Map a non-2xx answer to its typed error with the server's retry hints attached."""
        hint = parse_retry_after(headers, status_code, self.rt.wall())
        error = error_from_response(status_code, headers, content, retry_after=hint, attempts=self.attempts)
        error.should_retry = should_retry_header(headers)
        if status_code == 429:
            self.rt.limiter_observe(status_code, headers, error.type)
            self.rt.emit(RateLimited(at=self.rt.wall(), model=self.model, type=error.type,
                                     request_id=error.request_id, retry_after=hint))
        return error

    def transport_failed(self, exc: httpx.HTTPError) -> Step[Any]:
        """Settle an attempt whose connection failed or timed out."""
        return self.failed_with(map_transport_error(exc, self.attempts))

    def _succeeded(self, status_code: int, usage: Any) -> None:
        latency = self.rt.clock() - self._started
        self._in_flight = False
        self._breaker.record_success()
        prompt, completion = _tokens(getattr(usage, "prompt_tokens", None)), _tokens(
            getattr(usage, "completion_tokens", None))
        cost = self.rt.ledger_ok(self, prompt, completion, latency, status_code)
        self.rt.after_attempt(self, "ok", latency, prompt, completion, cost, status_code)

    def failed_with(self, error: APIError) -> Step[Any]:
        """Record a failed attempt, then return :class:`Retry` or raise the final error."""
        latency = self.rt.clock() - self._started
        error.attempts = self.attempts
        error.request_id = error.request_id or self.request_id
        self._in_flight = False
        self._breaker.record_failure(error)
        uncertain = is_uncertain(error)
        status = getattr(error, "status_code", None)
        self.rt.after_attempt(self, "uncertain" if uncertain else "error", latency, None, None, None, status)
        wait = self.retry.next_wait(error, self.rt.clock())
        if wait is not None and self._breaker.open_remaining > wait:
            wait = None  # this failure opened the breaker: a retry would sleep only to fail fast
        if uncertain:
            self.rt.ledger_uncertain(self, error, latency)
            if wait is not None:
                self.reservation = self.rt.reserve(self.estimate)  # BudgetExceededError stops the retries
        else:  # a definite failure: the final one releases the reservation
            self.rt.ledger_error(self, error, latency, final=wait is None)
        if wait is None:
            raise error
        self.rt.retry_scheduled(self, wait, self.retry.last_reason or type(error).__name__)
        return Retry(wait)

    # -- streams: the first event is settled like any attempt; after it, these settle the call, never retrying
    def stream_opened(self, status_code: int, headers: Mapping[str, str]) -> None:
        """A stream attempt got its status and headers: note the request id, feed the limiter's hints."""
        self.request_id = headers.get("x-request-id") or self.request_id
        self.rt.observe_headers(status_code, headers)

    def stream_done(self, usage: Any) -> None:
        """The stream reached ``[DONE]``: a success, charged from ``usage`` (the estimate when it is missing)."""
        if self._in_flight:
            self._succeeded(200, usage)

    def stream_failed(self, error: APIError, *, breaker: BaseException | None, usage: Any) -> APIError:
        """Settle a stream that broke after its first event and return ``error`` to raise (no retry: output was
        delivered). The breaker records ``breaker`` (None frees the probe slot and counts nothing)."""
        error.attempts = self.attempts
        error.request_id = error.request_id or self.request_id
        if self._in_flight:
            self._in_flight = False
            if breaker is None:
                self._breaker.release()
            else:
                self._breaker.record_failure(breaker)
            self._partial(error, usage, "error")
        return error

    def stream_abandoned(self, usage: Any) -> None:
        """The consumer closed the stream before ``[DONE]`` (break, an exception, ``close()``)."""
        if not self._in_flight:
            return
        if usage is not None:  # the final chunk arrived: the answer is whole, only [DONE] was not read
            self._succeeded(200, usage)
            return
        self._in_flight = False
        self._breaker.release()
        self._partial(StreamError("the stream was closed before [DONE]", request_id=self.request_id,
                                  attempts=self.attempts), None, "abandoned")

    def _partial(self, error: APIError, usage: Any, outcome: str) -> None:
        """Charge a stream that ended early: its usage when the final chunk came, else the estimate (uncertain)."""
        latency = self.rt.clock() - self._started
        prompt, completion = _tokens(getattr(usage, "prompt_tokens", None)), _tokens(
            getattr(usage, "completion_tokens", None))
        cost = None
        if prompt is not None and completion is not None:
            cost = self.rt.ledger_ok(self, prompt, completion, latency, 200)
        else:
            self.rt.ledger_uncertain(self, error, latency)
            outcome = "uncertain" if outcome == "error" else outcome
        status = getattr(error, "status_code", None)
        self.rt.after_attempt(self, outcome, latency, prompt, completion, cost, status)

    def abort(self, exc: BaseException) -> None:
        """The call ended by an exception outside the HTTP exchange (cancel, limiter timeout, breaker)."""
        if self._in_flight:  # only an admitted attempt may free its probe slot
            self._in_flight = False
            self._breaker.release()
        self.rt.ledger_abort(self, exc)


def _tokens(value: object) -> int | None:
    """A usage count as the ledger may take it: a non-negative int, else unknown (never a negative charge)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def prepare(
    rt: Runtime,
    *,
    messages: object,
    model: str | None,
    params: Mapping[str, Any],
    stream: bool = False,
) -> tuple[Call, dict[str, Any]]:
    """Validate, estimate and reserve; return the call and the httpx request arguments.

    Raises:
        RequestValidationError: bad input (nothing was sent, nothing reserved).
        BudgetExceededError: the estimate does not fit in the budget (nothing was sent).
    """
    options = {k: params[k] for k in ("extra_body", "extra_headers", "timeout") if k in params}
    fields = {k: v for k, v in params.items() if k not in options}
    if stream:
        fields["stream"] = True
    model_id = model if model is not None else rt.settings.model
    if rt.budgeted and fields.get("max_tokens") is None:
        fields["max_tokens"] = rt.settings.default_max_tokens
    body = build_body(messages=messages, model=model_id, params=fields, extra_body=options.get("extra_body"))
    if not _NESTED.isdisjoint(body):  # shapes build_body does not check in depth: the generated model judges
        try:
            ChatCompletionRequest.from_dict(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise RequestValidationError("request", f"does not match the API schema: {exc!r}") from exc
    headers = dict(_ROUTE["headers"])
    headers.update(options.get("extra_headers") or {})
    timeout = rt.timeout(float(options["timeout"])) if "timeout" in options else rt.default_timeout
    if stream:  # the read timeout is the idle timeout between events; ``timeout`` bounds connect, write, pool
        headers["Accept"] = "text/event-stream"
        timeout = httpx.Timeout(connect=timeout.connect, read=rt.settings.stream_idle_timeout,
                                write=timeout.write, pool=timeout.pool)
    kwargs = {"method": _ROUTE["method"], "url": _ROUTE["url"], "headers": headers, "timeout": timeout,
              "content": json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()}
    estimate = rt.estimate(model_id, body["messages"], body.get("max_tokens"), body.get("tools"),
                           response_format=body.get("response_format"), n=body.get("n"))
    reservation = rt.admit(estimate)  # confirmation, then the budget: both before any I/O
    call = Call(rt=rt, model=model_id, request=kwargs, estimate=estimate, reservation=reservation,
                retry=rt.retry_policy.start(rt.clock(), rt.rng), stream=stream)
    return call, kwargs

