"""The pure core of a call: prepare it (validate, bound, expected cost), and judge each attempt's answer.

Nothing here sleeps, awaits, or touches a socket, a file or a database; nothing calls a user hook. Functions
take readings (clock values, answers) and return values or typed errors; the shells and the decorator stack
(``_async/_stack.py``) act on them through :class:`~wrapper._pipeline._runtime.Runtime`.

Request preparation keeps the generated model as the request's type without paying for a round trip through
it: :class:`PreparedRequest` *is* a generated ``ChatCompletionRequest`` (the generated endpoint functions take
it as their ``body=``) whose ``to_dict()`` returns the body :func:`~wrapper._pipeline._validate.build_body`
already validated. Nested fields that our validation checks only in outline (tools, response_format, ...)
are checked in depth by the generated model's ``from_dict`` when present.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import httpx
from together_api_client.models.chat_completion_request import ChatCompletionRequest

from .._error_map import error_from_response
from .._errors import APIError, APIResponseValidationError, APIStatusError, RequestValidationError
from ._validate import build_body

if TYPE_CHECKING:
    from .._ledger import Estimate, Reservation
    from ._runtime import Runtime

__all__ = ["Call", "PreparedRequest", "attempt_timeout", "forbid_resend", "is_uncertain", "prepare", "unparseable",
           "usage_tokens"]

_NESTED = frozenset({"tools", "tool_choice", "response_format", "function_call", "reasoning"})


class PreparedRequest(ChatCompletionRequest):
    """A generated ``ChatCompletionRequest`` holding the already validated JSON body it serialises to."""

    __slots__ = ("_wire",)
    _wire: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any]) -> PreparedRequest:
        """Wrap a validated body (``model`` and ``messages`` present)."""
        request = cls(model=body["model"], messages=[])
        request._wire = body
        return request

    def to_dict(self) -> dict[str, Any]:
        return self._wire


@attrs.define(eq=False, slots=True)
class Call:
    """One call across its attempts: what the policies need to know about it, and what happened so far.

    Attributes:
        key: the breaker's key -- the model for chat, the endpoint's name for others.
        tokens: the limiter's weight (the worst-case tokens of the request; 0 when not metered).
        estimate: the cost estimate (None for calls that are not charged, such as ``/models``).
        total: seconds one attempt may take in all (``TOGETHER_TIMEOUT`` or the call's ``timeout=``).
        timeout: the httpx per-operation timeouts of an attempt.
    """

    key: str
    total: float
    timeout: httpx.Timeout
    model: str | None = None
    headers: dict[str, str] = attrs.Factory(dict)  # extra headers for every attempt (checked in prepare)
    tokens: int = 0
    estimate: Estimate | None = None
    stream: bool = False
    reservation: Reservation | None = None
    attempts: int = 0
    request_id: str | None = None
    started: float = 0.0
    usage: Any = None  # the successful attempt's usage object
    status: int | None = None  # the last attempt's HTTP status
    resend: bool = True  # False for creates (upload, batch): an attempt that may have reached Together is final
    response_headers: Mapping[str, str] | None = None  # the last answer's headers

    def begin(self, now: float) -> None:
        """An attempt was admitted (breaker and limiter passed) and is about to be sent."""
        self.attempts += 1
        self.started = now

    def answered(self, status: int, headers: Mapping[str, str]) -> None:
        """Note the last answer's status and request id."""
        self.status = status
        self.response_headers = headers
        self.request_id = headers.get("x-request-id") or self.request_id


@functools.lru_cache(maxsize=256)  # a client has one or a few; httpx.Timeout is immutable, so one object serves all
def attempt_timeout(total: float, connect: float, *, read: float | None = None) -> httpx.Timeout:
    """The httpx timeouts of one attempt: ``total`` seconds per operation, connect capped by its setting."""
    return httpx.Timeout(total, connect=min(connect, total), read=total if read is None else read)


def check_timeout(value: object, where: str = "timeout") -> float:
    """A per-call ``timeout=``: seconds (int/float), ``httpx.Timeout`` (its largest limit), refused otherwise.

    Raises:
        RequestValidationError: not a finite number > 0 (None, 0, negative, NaN and inf are refused).
    """
    if isinstance(value, httpx.Timeout):
        limits = [v for v in (value.connect, value.read, value.write, value.pool) if v is not None]
        if not limits:
            raise RequestValidationError(where, "an httpx.Timeout with no limit set; give seconds, e.g. timeout=30")
        value = max(limits)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestValidationError(where, f"expected seconds as a number (e.g. 30), got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise RequestValidationError(where, f"must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_headers(headers: object) -> dict[str, str]:
    """``extra_headers``: names and values must be printable ASCII text (checked before any I/O).

    Raises:
        RequestValidationError: a non-string, non-ASCII or control character (CR/LF) in a name or value.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise RequestValidationError("extra_headers", f"expected a dict of str to str, got {type(headers).__name__}")
    out: dict[str, str] = {}
    for name, value in headers.items():
        for part, text in (("name", name), ("value", value)):
            if not isinstance(text, str):
                raise RequestValidationError(f"extra_headers[{name!r}]", f"the header {part} must be a str")
            if not text.isascii() or any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text):
                raise RequestValidationError(
                    f"extra_headers[{name!r}]", f"the header {part} must be printable ASCII (no newlines)")
        out[name] = value
    return out


def prepare(
    rt: Runtime,
    *,
    messages: object,
    model: str | None,
    params: Mapping[str, Any],
    stream: bool = False,
    confirm: bool = True,
) -> tuple[Call, PreparedRequest]:
    """Validate and estimate a chat call; nothing is sent and nothing is reserved yet.

    Returns:
        The call and the typed request body.
    Raises:
        RequestValidationError: bad input.
        ConfirmationRequiredError: above ``CONFIRM_ABOVE_COST`` and not confirmed (checked by the runtime).
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
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RequestValidationError("request", f"does not match the API schema: {exc!r}") from exc
    headers = check_headers(options.get("extra_headers"))
    total = check_timeout(options["timeout"]) if "timeout" in options else rt.settings.timeout
    read = rt.settings.stream_idle_timeout if stream else None
    estimate = rt.estimate(model_id, body["messages"], body.get("max_tokens"), body.get("tools"),
                           response_format=body.get("response_format"), n=body.get("n"))
    if confirm:  # False: the caller confirms (a fallback switch asks only when it is dearer)
        rt.confirm(estimate)
    call = Call(key=model_id, total=total, timeout=attempt_timeout(total, rt.settings.connect_timeout, read=read),
                model=model_id, headers=headers, tokens=int(estimate.prompt_tokens + estimate.max_completion_tokens),
                estimate=estimate, stream=stream)
    return call, PreparedRequest.of(body)


def status_error(call: Call, status: int, headers: Mapping[str, str], content: bytes, *, wall: float) -> APIStatusError:
    """The typed error of a non-2xx answer, with the server's retry hints attached. Pure."""
    from .._policies._hints import parse_retry_after, should_retry_header

    hint = parse_retry_after(headers, status, wall)
    error = error_from_response(status, headers, content, retry_after=hint, attempts=call.attempts)
    error.should_retry = should_retry_header(headers)
    return error


def unparseable(call: Call, response: httpx.Response | None, exc: BaseException) -> APIResponseValidationError:
    """A 2xx answer whose body the generated parser rejected (truncated JSON, a wrong shape). Pure."""
    status = response.status_code if response is not None else 200
    body = response.content[:2000].decode("utf-8", "replace") if response is not None else ""
    request_id = response.headers.get("x-request-id") if response is not None else None
    return APIResponseValidationError(f"could not parse Together's {status} answer ({type(exc).__name__}: {exc})",
                                      status_code=status, body=body, request_id=request_id or call.request_id)


def forbid_resend(call: Call, error: APIError) -> None:
    """Mark ``error`` final when ``call`` must not be sent twice and this attempt may have reached Together. Pure.

    Together documents no idempotency key for uploads and batch creates, so such a call is retried only when the
    request provably never arrived or was refused before any work (not sent; 429). A 5xx or a lost connection
    after sending may have created the object: another attempt could create (and bill) a second one.
    """
    from .._errors import APIConnectionError

    if call.resend:
        return
    if isinstance(error, APIConnectionError) and not error.sent:
        return
    if isinstance(error, APIStatusError) and error.status_code == 429:
        return
    error.should_retry = False


def is_uncertain(error: BaseException) -> bool:
    """True when the failed attempt may still have been billed (so its bound is kept as a charge)."""
    from .._errors import APIConnectionError

    if isinstance(error, APIStatusError):
        return error.status_code == 504
    if isinstance(error, APIConnectionError):
        return error.sent
    return isinstance(error, APIResponseValidationError)


def usage_tokens(usage: object) -> tuple[int | None, int | None]:
    """(prompt, completion) from a usage object, each a non-negative int or None (never a negative charge)."""
    def count(value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    return count(getattr(usage, "prompt_tokens", None)), count(getattr(usage, "completion_tokens", None))
