"""JSON attempts of the async client, sent on the aiohttp session under the default httpx-aiohttp transport.

Why: with httpx's ``Request``/``Response`` adaptation in between, one attempt cost about 230 µs of CPU more
than aiohttp alone at concurrency 64 (benchmarks/bench_clients.py). The session is the transport's own, so
the pool, its limits and ``aclose`` are shared with the stream and ``/models`` paths, which keep httpx types.
With any other transport (tests, proxies) the client uses the transport as usual.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from .._errors import APIError
from ._outcomes import map_aiohttp_error

__all__ = ["post_json", "session_of"]


def session_of(transport: httpx.AsyncBaseTransport) -> aiohttp.ClientSession | None:
    """The aiohttp session behind ``transport`` (made on first use, inside the running loop), or None."""
    if not isinstance(transport, AiohttpTransport):
        return None
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()
    return transport.client


async def post_json(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str], content: bytes, limits_s: httpx.Timeout,
    attempts: int,
) -> tuple[int, Mapping[str, str], bytes] | APIError:
    """POST one attempt; its status, headers and body, or the typed error of a failed connection."""
    limits = aiohttp.ClientTimeout(sock_connect=limits_s.connect, sock_read=limits_s.read, connect=limits_s.pool)
    try:
        async with session.post(url, data=content, headers=headers, timeout=limits, allow_redirects=False) as resp:
            return resp.status, resp.headers, await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return map_aiohttp_error(exc, attempts)
