"""The fake Together server's request handlers: auth, validation, limit, fault dispatch, and writing answers.

Lean on purpose (the benchmarks push thousands of requests through it): one ``json.loads`` per request, bodies
filled into templates, headers built from one small dict. A request counts as *succeeded* when its full answer
(for a stream: through ``[DONE]``) was handed to the socket without a connection error; it is counted just
before the last write, so a client never sees an answer the stats do not have yet. A client that gives up while
a complete answer is already on its way (e.g. its timeout fires at that moment) can still be counted.
"""

from __future__ import annotations

import asyncio
import http
import itertools
import json
import secrets
import socket
import struct
import time
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web

from wrapper.testing import _fake_bodies as bodies
from wrapper.testing._fake_bodies import UsageProfile
from wrapper.testing._fake_catalog import FakeCatalog
from wrapper.testing._fake_faults import FakeStats, Fault, FaultPicker, RequestRecord, WindowCounter

__all__ = ["Handlers"]

_JSON, _SSE, _HTML = "application/json", "text/event-stream;charset=utf-8", "text/html"
_STREAM_FAULTS = frozenset({"stream_cut", "stream_stall", "stream_error_event", "reset_after_headers"})


def _secs(value: float) -> str:
    """Seconds as a short decimal string ("1", "0.25")."""
    return f"{max(value, 0.0):.3f}".rstrip("0").rstrip(".") or "0"


def _drop(request: web.BaseRequest, *, reset: bool) -> None:
    """Close the connection: a TCP RST (SO_LINGER 0, unsent data dropped) or a plain close (FIN after a flush)."""
    transport = request.transport
    if transport is None:
        return
    if not reset:
        transport.close()
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _valid(body: Any) -> bool:
    """A chat body needs a string ``model`` and a list of message objects."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("model"), str)
        and isinstance(body.get("messages"), list)
        and all(isinstance(m, dict) for m in body["messages"])
    )


class Handlers:
    """The aiohttp handlers of one fake server; they share its fault picker, window counter and stats."""

    def __init__(
        self, *, faults: FaultPicker, window: WindowCounter, stats: FakeStats, latency: float, chunks: int,
        retry_after: float, catalog: FakeCatalog, usage: UsageProfile = "chars",
    ) -> None:  # fmt: skip
        self._faults, self._window, self._stats = faults, window, stats
        self._usage: UsageProfile = usage
        self._latency, self._chunks, self._retry_after = latency, chunks, retry_after
        self._catalog = catalog
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._remaining, self._reset = 9999, 1.0  # the limiter's last numbers, for answers before admission

    # ----------------------------------------------------------------- shared helpers
    def _new_id(self, path: str) -> tuple[str, int]:
        serial = next(self._ids)
        rid = f"fake-{self._prefix}-{serial:07d}"
        stats = self._stats
        stats.total += 1
        stats.by_path[path] += 1
        stats.request_ids.append(rid)
        return rid, serial

    def _headers(self, rid: str, content_type: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        limit = self._window.limit
        headers = {
            "content-type": content_type,
            "x-request-id": rid,
            "x-ratelimit-limit": str(limit[0] if limit else 10000),
            "x-ratelimit-remaining": str(self._remaining),
            "x-ratelimit-reset": _secs(self._reset),
            "x-tokenlimit-limit": "2000000",
            "x-tokenlimit-remaining": "1999000",
        }
        if extra:
            headers.update(extra)
        return headers

    def _error(self, rid: str, status: int, message: str, type_: str, code: str | None = None) -> web.Response:
        body = bodies.error_body(message, type_, code, rid)
        return web.Response(status=status, body=body, headers=self._headers(rid, _JSON))

    @staticmethod
    def authorized(request: web.BaseRequest) -> bool:
        """Whether the request carries a non-empty bearer token."""
        return Handlers._authorized(request)

    @staticmethod
    def _authorized(request: web.BaseRequest) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip())

    # ----------------------------------------------------------------- GET /models
    async def models(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models``: the served models with prices, after the bearer check (or the scripted error).

        Counted in ``stats.models_requests`` only: ``stats.total`` and the status counts are chat requests'.
        """
        self._stats.models_requests += 1
        rid = f"fake-{self._prefix}-models-{self._stats.models_requests:05d}"
        if not self._authorized(request):
            return self._error(rid, 401, "Invalid API key provided.", "invalid_request_error", "invalid_api_key")
        status = self._catalog.models_error
        if status is not None:
            return self._error(rid, status, f"{http.HTTPStatus(status).phrase} (injected).", "server_error")
        return web.Response(body=self._catalog.listing, headers=self._headers(rid, _JSON))

    # ----------------------------------------------------------------- POST /chat/completions
    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``: record the arrival, run the checks, inject the fault, answer."""
        now = time.monotonic()
        self._window.arrive(now)
        rid, serial = self._new_id(request.path)
        record = RequestRecord(rid, request.path, None, False, "", 0, now)
        self._stats.requests.append(record)
        return await self._chat(request, record, serial, now)

    def _settle(self, record: RequestRecord, status: int) -> None:
        """Record the answer's status before any byte of it is sent (so a client never sees it first)."""
        record.status = status
        self._stats.by_status[status] += 1

    def _refuse(self, record: RequestRecord, status: int, message: str, code: str | None = None) -> web.Response:
        self._settle(record, status)
        return self._error(record.request_id, status, message, "invalid_request_error", code)

    async def _chat(self, request: web.Request, record: RequestRecord, serial: int, now: float) -> web.StreamResponse:
        if not self._authorized(request):
            return self._refuse(record, 401, "Invalid API key provided.", "invalid_api_key")
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not _valid(body):
            return self._refuse(record, 400, "Invalid request: 'model' and 'messages' are required.")
        record.model, record.stream, record.body = body["model"], body.get("stream") is True, body
        if not self._catalog.answers(record.model):
            message = f"Unable to access model {record.model}. Please visit https://api.together.ai/models."
            return self._refuse(record, 400, message, "model_not_available")
        admitted, self._remaining, self._reset = self._window.admit(now)
        if not admitted:
            self._settle(record, 429)
            return self._rate_limited(record.request_id, self._reset, Fault("rate_limit"))
        fault = self._faults.next()
        record.fault = fault.kind
        self._stats.by_fault[fault.kind] += 1
        wait = self._latency + (0.0 if fault.kind == "stream_stall" else fault.delay)
        if wait > 0:
            await asyncio.sleep(wait)
        return await self._answer(request, record, serial, body, fault)

    def _rate_limited(self, rid: str, retry: float, fault: Fault) -> web.Response:
        resp = self._error(rid, fault.effective_status, "Request rate limit exceeded.", "dynamic_request_limited")
        resp.headers["x-ratelimit-remaining"] = "0"
        if fault.kind == "rate_limit":
            resp.headers["retry-after"] = _secs(retry)
            resp.headers["retry-after-ms"] = str(round(retry * 1000))
            resp.headers["x-ratelimit-reset"] = _secs(retry)
        else:
            del resp.headers["x-ratelimit-reset"]
        return resp

    async def _answer(
        self, request: web.Request, record: RequestRecord, serial: int, body: dict[str, Any], fault: Fault
    ) -> web.StreamResponse:
        rid, kind, status = record.request_id, fault.kind, fault.effective_status
        resp: web.Response
        if kind in ("rate_limit", "rate_limit_no_hints"):
            retry = self._retry_after if fault.retry_after is None else fault.retry_after
            resp = self._rate_limited(rid, retry, fault)
        elif kind == "server_error" or (kind == "stream_error_event" and not record.stream):
            status = status if kind == "server_error" else 500
            resp = self._error(rid, status, f"{http.HTTPStatus(status).phrase} (injected fault).", "server_error")
        elif kind == "html_error":
            page = bodies.HTML_ERROR.format(status=status).encode()
            resp = web.Response(status=status, body=page, headers=self._headers(rid, _HTML))
        elif kind == "reset_before_headers":
            self._settle(record, 0)
            _drop(request, reset=True)
            return web.Response()
        else:
            self._settle(record, 200)
            return await self._reply(request, record, serial, body, fault)
        resp.headers.update(fault.headers)
        self._settle(record, resp.status)
        return resp

    async def _complete(self, resp: web.StreamResponse, rid: str, last: bytes) -> None:
        """Send the last bytes and end the answer, counted as a success first (the client may read it at once)."""
        self._stats.succeeded.add(rid)
        try:
            if last:
                await resp.write(last)
            await resp.write_eof()
        except ConnectionError:
            self._stats.succeeded.discard(rid)
            raise

    async def _reply(
        self, request: web.Request, record: RequestRecord, serial: int, body: dict[str, Any], fault: Fault
    ) -> web.StreamResponse:
        rid, model, kind = record.request_id, str(record.model), fault.kind
        reply = bodies.build_reply(body, model, usage=self._usage)
        if record.stream:
            events = bodies.chunk_events(rid, serial, int(time.time()), model, reply, self._chunks)
            return await self._stream(request, rid, events, fault)
        payload = bodies.completion_body(rid, serial, int(time.time()), model, reply)
        headers = self._headers(rid, _JSON, fault.headers)
        if kind == "truncated_json":
            return web.Response(body=payload[: len(payload) // 2], headers=headers)
        if kind in ("ok", "latency"):
            resp: web.StreamResponse = web.Response(body=payload, headers=headers)
        else:
            resp = web.StreamResponse(headers=headers)
            resp.content_length = len(payload)
        try:
            await resp.prepare(request)
            if kind in ("ok", "latency"):
                await self._complete(resp, rid, b"")
                return resp
            half = len(payload) // 2
            await resp.write(payload[:half])
            if kind != "stream_stall":
                _drop(request, reset=kind == "reset_after_headers")
                return resp
            await asyncio.sleep(fault.delay)
            await self._complete(resp, rid, payload[half:])
        except ConnectionError:
            pass
        return resp

    async def _stream(
        self, request: web.Request, rid: str, events: Iterator[bytes], fault: Fault
    ) -> web.StreamResponse:
        kind = "stream_cut" if fault.kind == "truncated_json" else fault.kind
        cut_at = min(fault.after_chunks, self._chunks) if kind in _STREAM_FAULTS else -1
        resp = web.StreamResponse(headers=self._headers(rid, _SSE, fault.headers))
        try:
            await resp.prepare(request)
            for i, event in enumerate(events):
                if i == cut_at:
                    if kind == "stream_error_event":
                        await resp.write(bodies.STREAM_ERROR_EVENT)
                        await resp.write_eof()
                        return resp
                    if kind != "stream_stall":
                        _drop(request, reset=kind == "reset_after_headers")
                        return resp
                    await asyncio.sleep(fault.delay)
                await resp.write(event)
            await self._complete(resp, rid, bodies.DONE_EVENT)
        except ConnectionError:
            pass
        return resp
