"""The one pure function that turns a non-2xx HTTP answer into the matching error of :mod:`wrapper._errors`.

It reads the status, Together's ``{"error": {...}}`` body (or whatever else came back) and ``x-request-id``,
and adds a hint on what to do where one helps. The error it builds redacts its message and body itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CreditLimitError,
    ModelNotAvailableError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)

__all__ = ["error_from_response"]

_BY_STATUS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_HINTS: Mapping[int, str] = {
    401: "check TOGETHER_API_KEY",
    402: "add credit to the Together account",
    429: "slow down or lower TOGETHER_RATE_LIMIT_RPM",
}
_CREDIT_HINT = ("the account is out of credit or over its spending limit: add credit or raise the limit at "
                "https://api.together.ai/settings/billing (waiting or retrying does not help)")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    retry_after: float | None = None,
    attempts: int = 1,
) -> APIStatusError:
    """Map one non-2xx answer to the matching typed error. Pure: no I/O.

    Args:
        status_code: the HTTP status (anything outside 2xx).
        headers: response headers (case-insensitive mapping such as ``httpx.Headers``).
        content: the raw body; JSON in Together's ``{"error": {...}}`` shape or anything else
            (an HTML 503 page still maps to :class:`ServerError`).
        retry_after: the server's retry hint in seconds, already parsed by the retry policy.
        attempts: how many attempts were made.

    Returns:
        The error to raise; the caller raises it.
    """
    body: Any
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = content.decode("utf-8", "replace")
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, str):  # some gateways send {"error": "text"}
        err = {"message": err}
    if not isinstance(err, dict):
        err = {}
    type_ = _text(err.get("type"))
    code = _text(err.get("code"))
    message = _text(err.get("message"))
    if message is None:
        snippet = body.strip()[:200] if isinstance(body, str) else ""
        message = snippet or f"HTTP {status_code} with no error message"
    if status_code >= 500:
        cls: type[APIStatusError] = ServerError
    else:
        cls = _BY_STATUS.get(status_code, APIStatusError)
    if status_code == 429 and "credit_limit" in (type_, code):
        cls = CreditLimitError
        message = f"{message}; {_CREDIT_HINT}"
    elif code == "model_not_available":
        cls = ModelNotAvailableError
        message = f"{message}; this model is not served: choose another model (TOGETHER_MODEL_STAGE1 or model=)"
    elif status_code in _HINTS:
        message = f"{message}; {_HINTS[status_code]}"
    request_id = headers.get("x-request-id") or (
        _text(body.get("id")) if isinstance(body, dict) else None
    )
    return cls(
        message,
        status_code=status_code,
        request_id=request_id,
        type=type_,
        code=code,
        param=_text(err.get("param")),
        body=body,
        retry_after=retry_after,
        attempts=attempts,
    )
