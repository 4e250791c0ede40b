"""The one httpx seam: which transport a client sends through, and how transport failures become our errors.

Both clients send every request through the generated client's ``httpx.Client`` / ``httpx.AsyncClient``. By
default those use httpx's own transports (``HTTPTransport`` / ``AsyncHTTPTransport``), which is what
pytest-httpx patches: a user's mocked test intercepts both clients with no setup. The aiohttp speed-up is an
opt-in backend (``TOGETHER_HTTP_BACKEND=aiohttp``, ``pip install 'together-wrapper[aiohttp]'``) through
httpx-aiohttp's transport, the same convention openai-python follows with its opt-in aiohttp client.

:func:`map_transport_error` is the only place a transport exception becomes an :class:`APIError`. Its one
question besides "timeout or not" is *was the request written?* (``sent``): an error raised before the request
left this process -- a refused connection, a connect timeout, a header value h11 refuses, an unsupported URL --
is ``sent=False``: never charged and, when it is our own doing (``local=True``), neither retried nor counted
by the breaker, because it cannot heal.

The response hooks remember the response of the attempt in flight (a context variable, so concurrent tasks and
threads never see each other's), which lets the pipeline report status, request id and body when the generated
parser rejects a 2xx body, and lets the sync client's total deadline reach the socket (see ``_deadline``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import httpx

from ._errors import APIConnectionError, APIError, APITimeoutError, ConfigError
from ._settings import Settings

__all__ = [
    "ASYNC_HOOKS",
    "ATTEMPT_OPTIONS",
    "BACKENDS",
    "SYNC_HOOKS",
    "async_request_hook",
    "LAST_RESPONSE",
    "async_response_hook",
    "build_async_transport",
    "build_sync_transport",
    "map_transport_error",
    "request_hook",
    "response_hook",
]

BACKENDS = ("httpx", "aiohttp")

LAST_RESPONSE: ContextVar[httpx.Response | None] = ContextVar("wrapper_last_response", default=None)
"""The response of the attempt in flight in this task or thread (set by the response hooks)."""

ATTEMPT_OPTIONS: ContextVar[tuple[dict[str, float | None], dict[str, str]] | None] = ContextVar(
    "wrapper_attempt_options", default=None)
"""The attempt in flight's httpx timeouts (``Timeout.as_dict()``) and extra headers, applied by the request hook:
the generated endpoint functions take only their documented parameters."""

# Errors raised before a byte of the request was written, by us or by the peer refusing the connection.
_NOT_SENT: tuple[type[httpx.HTTPError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                                                httpx.LocalProtocolError, httpx.UnsupportedProtocol,
                                                httpx.ProxyError)
# ... of which these are our own doing: another attempt would fail the same way.
_LOCAL: tuple[type[httpx.HTTPError], ...] = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


def build_sync_transport(settings: Settings) -> httpx.BaseTransport | None:
    """The sync client's transport: None, so that httpx builds its own (and honours ``HTTPS_PROXY``, ``NO_PROXY``,
    ``SSL_CERT_FILE`` from the environment, as a plain ``httpx.Client`` does); aiohttp has no sync client."""
    return None


def build_async_transport(settings: Settings) -> httpx.AsyncBaseTransport | None:
    """None (httpx's own async transport, built by httpx), or httpx-aiohttp's when ``TOGETHER_HTTP_BACKEND=aiohttp``.

    Raises:
        ConfigError: an unknown backend, or aiohttp asked for without the ``aiohttp`` extra installed.
    """
    backend = settings.http_backend
    if backend == "httpx":
        return None
    if backend == "aiohttp":
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:
            raise ConfigError("TOGETHER_HTTP_BACKEND=aiohttp needs: pip install 'together-wrapper[aiohttp]'") \
                from None
        limits = httpx.Limits(max_connections=settings.max_connections,
                              max_keepalive_connections=settings.max_keepalive_connections)
        transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits)
        return transport
    raise ConfigError(f"TOGETHER_HTTP_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")


def request_hook(request: httpx.Request) -> None:
    """httpx request hook: give the request the timeouts and extra headers of the attempt in flight."""
    options = ATTEMPT_OPTIONS.get()
    if options is not None:
        timeouts, headers = options
        request.extensions["timeout"] = timeouts
        if headers:
            request.headers.update(headers)


def response_hook(response: httpx.Response) -> None:
    """httpx response hook (sync): remember the attempt's response; let a total deadline reach its socket."""
    LAST_RESPONSE.set(response)
    from ._deadline import attach  # the sync client's watchdog; cheap after the first import

    attach(response)


async def async_request_hook(request: httpx.Request) -> None:
    """httpx request hook (async): as :func:`request_hook`."""
    request_hook(request)


async def async_response_hook(response: httpx.Response) -> None:
    """httpx response hook (async): remember the attempt's response (the deadline is ``asyncio.timeout``)."""
    LAST_RESPONSE.set(response)


SYNC_HOOKS: dict[str, list[Any]] = {"request": [request_hook], "response": [response_hook]}
"""The event hooks of the sync client's httpx client."""
ASYNC_HOOKS: dict[str, list[Any]] = {"request": [async_request_hook], "response": [async_response_hook]}
"""The event hooks of the async client's httpx client."""


_KNOB = "TOGETHER_TIMEOUT"


def map_transport_error(exc: BaseException, attempts: int = 1) -> APIError:
    """Turn a transport exception into our error; ``sent`` says whether Together may have got the request.

    Args:
        exc: an ``httpx.HTTPError`` (whatever the backend: httpx-aiohttp wraps aiohttp's errors in httpx's,
            keeping aiohttp's as the cause), or an encoding error raised while the request was being built.
        attempts: the attempt number, kept on the error.
    """
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        return _map_aiohttp(cause, attempts)
    name = type(exc).__name__
    if isinstance(exc, (UnicodeError, httpx.InvalidURL)):  # a header or URL that cannot be encoded: never sent
        return _local(f"the request could not be built ({name}: {exc})", attempts)
    if isinstance(exc, _LOCAL):
        return _local(f"the request was refused before sending ({name}: {exc})", attempts)
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return APITimeoutError(f"timed out connecting to Together ({name})", attempts=attempts, sent=False)
    if isinstance(exc, httpx.TimeoutException):  # read, write or the attempt's total deadline: each one is ours
        detail = f"{name}: {exc}" if str(exc) else name
        if _KNOB not in detail:  # httpx's per-read timeout and our total deadline race; either way name the knob
            detail += f", limit set by {_KNOB} or the call's timeout="
        return APITimeoutError(f"no answer from Together in time ({detail})", attempts=attempts, sent=True)
    if isinstance(exc, _NOT_SENT):
        detail = f"{name}: {exc}" if str(exc) else name
        return APIConnectionError(f"could not connect to Together ({detail})", attempts=attempts, sent=False)
    return APIConnectionError(f"connection to Together failed ({name}: {exc})", attempts=attempts, sent=True)


def _local(message: str, attempts: int) -> APIConnectionError:
    error = APIConnectionError(message, attempts=attempts, sent=False)
    error.local = True
    return error


def _map_aiohttp(cause: BaseException, attempts: int) -> APIError:
    """Classify an aiohttp failure wrapped by the httpx-aiohttp transport.

    That transport maps a connection reset *after the request was sent* (``ClientOSError``) and a refused
    connection alike to ``httpx.ConnectTimeout``; taken at face value, a request Together may have billed would
    be released from the budget as never sent.
    """
    import aiohttp  # only reached with the opt-in aiohttp backend

    name = type(cause).__name__
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, DNS, TLS: the request never left
        return APIConnectionError(f"could not connect to Together ({name})", attempts=attempts, sent=False)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(f"timed out connecting to Together ({name})", attempts=attempts, sent=False)
    if isinstance(cause, (aiohttp.ServerTimeoutError, TimeoutError)):
        return APITimeoutError(f"no answer from Together in time ({name})", attempts=attempts, sent=True)
    if isinstance(cause, (aiohttp.InvalidURL, ValueError)):
        return _local(f"the request was refused before sending ({name}: {cause})", attempts)
    return APIConnectionError(f"connection to Together failed ({name}: {cause})", attempts=attempts, sent=True)
