"""What one attempt can come to: ``Done``/``Retry`` steps, and the pure mappings of transport failures and bodies.

Shared by the call core and the stream reader; no I/O, no state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Generic, TypeVar

import attrs
import httpx

from .._errors import APIConnectionError, APIError, APIResponseValidationError, APIStatusError, APITimeoutError
from .._types import ChatCompletionResponse

__all__ = ["Done", "Retry", "Step", "is_uncertain", "map_aiohttp_error", "map_transport_error", "parse_completion"]

T = TypeVar("T")


@attrs.frozen
class Done(Generic[T]):
    """The call finished with ``value``."""

    value: T


@attrs.frozen
class Retry:
    """Wait ``wait`` seconds, then make another attempt."""

    wait: float


Step = Done[T] | Retry


def map_transport_error(exc: httpx.HTTPError, attempts: int = 1) -> APIError:
    """Turn an httpx exception into our error; ``sent`` says whether Together may have got the request."""
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        return map_aiohttp_error(cause, attempts)
    name = type(exc).__name__
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return APITimeoutError(f"timed out connecting to Together ({name})", attempts=attempts, sent=False)
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no answer from Together in time ({name})", attempts=attempts, sent=True)
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"could not connect to Together ({name})", attempts=attempts, sent=False)
    return APIConnectionError(f"connection to Together failed ({name}: {exc})", attempts=attempts, sent=True)


def parse_completion(status_code: int, headers: Mapping[str, str], content: bytes) -> ChatCompletionResponse:
    """Parse a 2xx body into the typed response, or raise :class:`APIResponseValidationError`."""
    try:
        data = json.loads(content)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return ChatCompletionResponse.from_dict(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise APIResponseValidationError(
            f"could not parse Together's {status_code} answer ({type(exc).__name__}: {exc})",
            status_code=status_code,
            body=content[:2000].decode("utf-8", "replace"),
            request_id=headers.get("x-request-id"),
        ) from exc


def is_uncertain(error: APIError) -> bool:
    """True when the failed attempt may still have been billed."""
    if isinstance(error, APIStatusError):
        return error.status_code == 504
    if isinstance(error, APIConnectionError):
        return error.sent
    return isinstance(error, APIResponseValidationError)


def map_aiohttp_error(cause: BaseException, attempts: int = 1) -> APIError:
    """Classify an aiohttp failure (raised directly, or wrapped by the httpx-aiohttp transport).

    The transport's table maps a connection reset *after the request was sent* (``ClientOSError``) and a refused
    connection alike to ``httpx.ConnectTimeout``; taken at face value, a request Together may have billed would be
    released from the budget as never sent.
    """
    import aiohttp  # the async client's transport; imported here so the sync client never pays for it

    name = type(cause).__name__
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, DNS, TLS: the request never left
        return APIConnectionError(f"could not connect to Together ({name})", attempts=attempts, sent=False)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"timed out connecting to Together ({name})", attempts=attempts, sent=False)
    if isinstance(cause, (aiohttp.ServerTimeoutError, TimeoutError)):
        return APITimeoutError(f"no answer from Together in time ({name})", attempts=attempts, sent=True)
    return APIConnectionError(f"connection to Together failed ({name}: {cause})", attempts=attempts, sent=True)
