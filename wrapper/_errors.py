"""The exception tree; :mod:`wrapper._error_map` turns an HTTP answer into one of its errors.

Every exception this package raises is a :class:`TogetherError`. Those raised
because of bad input also subclass :class:`ValueError`; timeouts also subclass
:class:`TimeoutError`, so ``except ValueError`` keeps working in callers that
do not know us (attrs does the same).

Nothing here may ever hold the API key: errors carry status, ids, Together's
``type``/``code``/``message`` and the response body, and every text and body an
:class:`APIError` keeps passes through :func:`wrapper._redact.redact` first (a 401
body can echo the key it refused; the client registers its key at construction).
"""

from __future__ import annotations

from decimal import Decimal

from ._redact import redact, redact_value

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CircuitOpenError",
    "ConfigError",
    "ConfirmationRequiredError",
    "CreditLimitError",
    "LocalRateLimitTimeout",
    "ModelNotAvailableError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ServerError",
    "StreamError",
    "TogetherError",
    "UnprocessableEntityError",
]


class TogetherError(Exception):
    """Base of every error raised by :mod:`wrapper`."""


class ConfigError(TogetherError, ValueError):
    """A setting is missing or invalid; raised when a client or Settings is built."""


class RequestValidationError(TogetherError, ValueError):
    """The request is invalid; raised before any network I/O.

    Attributes:
        field: the request field at fault (``"messages[2].role"``, ``"temperature"``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class BudgetExceededError(TogetherError):
    """The call's estimated cost does not fit in what is left of the budget.

    Raised before the request is sent, never after.
    """

    def __init__(
        self,
        *,
        estimate: Decimal,
        spent: Decimal,
        reserved: Decimal,
        limit: Decimal,
        run_id: str | None = None,
        message: str | None = None,
    ) -> None:
        left = limit - spent - reserved
        super().__init__(
            message
            or f"estimated cost ${estimate} exceeds what is left of the budget "
            f"(${left} of ${limit}; spent ${spent}, reserved ${reserved}"
            + (f", run {run_id}" if run_id else "")
            + "); raise MAX_ESTIMATED_COST or lower max_tokens"
        )
        self.estimate = estimate
        self.spent = spent
        self.reserved = reserved
        self.limit = limit
        self.run_id = run_id


class ConfirmationRequiredError(TogetherError):
    """An operation costs more than ``CONFIRM_ABOVE_COST`` and nobody confirmed it."""

    def __init__(self, message: str, *, estimate: Decimal, threshold: Decimal) -> None:
        super().__init__(message)
        self.estimate = estimate
        self.threshold = threshold


class CircuitOpenError(TogetherError):
    """The breaker for this model is open: the call failed fast, nothing was sent."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(
            f"circuit for {name!r} is open after repeated failures; "
            f"next probe allowed in {retry_in:.1f}s"
        )
        self.name = name
        self.retry_in = retry_in


class LocalRateLimitTimeout(TogetherError, TimeoutError):
    """Waited longer than allowed in our own rate-limit queue; nothing was sent."""

    def __init__(self, waited: float, limit: str) -> None:
        super().__init__(
            f"waited {waited:.1f}s for a rate-limit slot ({limit}); raise "
            "TOGETHER_RATE_LIMIT_MAX_WAIT or lower the concurrency"
        )
        self.waited = waited
        self.limit = limit


class APIError(TogetherError):
    """A request was (or may have been) sent and did not succeed.

    Attributes:
        request_id: Together's ``x-request-id`` of the last attempt, when known.
        attempts: how many attempts were made before giving up.
        should_retry: a verdict that overrides the retry policy when False (the server's ``x-should-retry``, or
            ours for a create that may have reached Together); None = the policy decides.
    """

    should_retry: bool | None = None

    def __init__(self, message: str, *, request_id: str | None = None, attempts: int = 1) -> None:
        message = redact(message)  # str(e), repr(e) and tracebacks all come from here
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.attempts = attempts

    def __str__(self) -> str:
        extra = []
        if self.request_id:
            extra.append(f"request_id={self.request_id}")
        if self.attempts > 1:
            extra.append(f"attempts={self.attempts}")
        return self.message + (f" ({', '.join(extra)})" if extra else "")


class APIConnectionError(APIError):
    """The connection failed. ``sent`` says whether the request may have reached Together."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        attempts: int = 1,
        sent: bool = False,
    ) -> None:
        super().__init__(message, request_id=request_id, attempts=attempts)
        self.sent = sent
        self.local = False  # raised on our side before sending (a bad header value): cannot heal by retrying


class APITimeoutError(APIConnectionError, TimeoutError):
    """No answer in time (connect, read, idle stream or total deadline)."""


class APIResponseValidationError(APIError):
    """Together answered 2xx with a body we could not parse (truncated or malformed)."""

    def __init__(self, message: str, *, status_code: int, body: str, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.body = redact(body)


class StreamError(APIError):
    """A stream ended before ``[DONE]`` or carried an error event we could not map."""


class APIStatusError(APIError):
    """Together answered with a non-2xx status.

    Attributes:
        status_code: the HTTP status.
        type: Together's ``error.type`` (``invalid_request_error``, ``dynamic_request_limited``, ...).
        code: Together's ``error.code`` (``model_not_available``, ``invalid_api_key``, ...).
        param: Together's ``error.param``.
        body: the parsed JSON body, or the raw text when it was not JSON.
        retry_after: the server's retry hint in seconds, when it gave one.
        should_retry: the server's ``x-should-retry`` verdict, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        type: str | None = None,  # noqa: A002 - Together's own field name
        code: str | None = None,
        param: str | None = None,
        body: object = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, request_id=request_id, attempts=attempts)
        self.status_code = status_code
        self.type = type
        self.code = code
        self.param = param
        self.body = redact_value(body)
        self.retry_after = retry_after
        self.should_retry: bool | None = None

    def __str__(self) -> str:
        return f"{self.status_code} {super().__str__()}"


class BadRequestError(APIStatusError):
    """400: the request was rejected as invalid."""


class ModelNotAvailableError(BadRequestError):
    """400 ``model_not_available``: this model is not served; choose another model."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PaymentRequiredError(APIStatusError):
    """402: the account is out of credit."""


class CreditLimitError(APIStatusError):
    """429 ``credit_limit``: the account's credit or spending limit is used up.

    Not a rate limit: it does not heal in seconds, so it is never retried (not even when
    ``x-should-retry`` says so). Add credit or raise the limit in Together's billing settings.
    """


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404: no such endpoint or model."""


class UnprocessableEntityError(APIStatusError):
    """422: the body was well-formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: over the account's rate limit."""


class ServerError(APIStatusError):
    """5xx: Together failed, is overloaded (503) or timed out upstream (504)."""
