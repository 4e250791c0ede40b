"""Which failures are worth another attempt: :func:`is_retryable`, honouring Together's ``x-should-retry``.

What is retried:

* :class:`APIStatusError` with status 408, 429, 500, 502, 503 or 504;
* :class:`APIConnectionError` with ``sent=False`` (the request never left: connect
  errors and connect timeouts), always;
* attempts that may have reached Together and may have been billed, only while
  ``retry_read_timeouts`` is True: :class:`APITimeoutError` with ``sent=True`` (read or
  idle timeouts), an :class:`APIConnectionError` with ``sent=True`` that is not a timeout
  (connection reset after sending: treated like a read timeout), and
  :class:`APIResponseValidationError` (a truncated or malformed 2xx body).

Never retried: any other status (400, 401, 402, 403, 404, 422, ...),
:class:`ModelNotAvailableError`, :class:`CreditLimitError` (a 429 about money, not pace),
:class:`StreamError` (output was already delivered),
our own local errors (validation, budget, open circuit, local rate-limit timeout,
config), cancellation and anything that is not a :class:`TogetherError`.

Together's ``x-should-retry`` header: the core stores it on the error as
``error.should_retry`` (``bool | None``). ``False`` forbids a retry of anything;
``True`` forces a retry of an otherwise non-retryable :class:`APIStatusError`, except
:class:`ModelNotAvailableError` (not transient by Together's own docs) and :class:`CreditLimitError`. It never
affects our local errors, which carry no response.
"""

from __future__ import annotations

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    CreditLimitError,
    ModelNotAvailableError,
)

__all__ = ["RETRYABLE_STATUSES", "is_retryable"]

RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another attempt: request timeout, rate limit, transient server failures."""


def is_retryable(error: BaseException, retry_read_timeouts: bool) -> bool:
    """Whether another attempt may succeed, honouring ``error.should_retry`` (``x-should-retry``).

    Args:
        error: the failure of one attempt.
        retry_read_timeouts: whether attempts that may have reached Together (read timeouts,
            connections lost after sending, unreadable 2xx bodies) are retried.
    """
    if isinstance(error, APIStatusError):
        server_says: bool | None = getattr(error, "should_retry", None)
        if isinstance(error, (ModelNotAvailableError, CreditLimitError)) or server_says is False:
            return False
        return server_says is True or error.status_code in RETRYABLE_STATUSES
    if getattr(error, "should_retry", None) is False:
        return False
    if isinstance(error, APIConnectionError) and error.local:  # refused on our side: another try fails alike
        return False
    if isinstance(error, APIConnectionError):  # includes APITimeoutError
        return not error.sent or retry_read_timeouts
    if isinstance(error, APIResponseValidationError):
        return retry_read_timeouts
    return False  # StreamError, our local errors, cancellation and foreign exceptions
