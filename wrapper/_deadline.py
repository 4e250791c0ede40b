"""A total time limit per attempt, however slowly the server trickles bytes: ``TOGETHER_TIMEOUT``.

httpx's timeouts are per operation: a read timeout of 2 s lets a server that sends one byte every 1.9 s hold a call
for as long as it likes. So each attempt also runs under a deadline:

* async (:class:`AsyncDeadline`): ``asyncio.timeout`` around the attempt, which cancels it at the deadline;
* sync (:class:`SyncDeadline`): a blocking read cannot be cancelled, so one watchdog thread per process keeps the
  deadlines of the attempts in flight and, when one passes, shuts the attempt's socket down (``shutdown`` wakes a
  blocked ``recv``). The socket is known from the response hook (:func:`attach`) once the status line arrived;
  before that, the wait is bounded by the read timeout, which never exceeds the total. Registering costs a heap push
  and no thread wake-up unless the new deadline is the earliest.

Both raise ``httpx.ReadTimeout`` at the deadline, which :func:`wrapper._transport.map_transport_error` turns into
:class:`~wrapper.APITimeoutError` (``sent=True``: the request may have been billed).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import socket
import threading
import time
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import httpx

__all__ = ["AsyncDeadline", "SyncDeadline", "attach"]


def _expired_error(seconds: float) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"the attempt ran past its {seconds:g}s total timeout (TOGETHER_TIMEOUT)")


class AsyncDeadline:
    """``async with AsyncDeadline(seconds):`` bounds the block in total; raises ``httpx.ReadTimeout`` at the end."""

    __slots__ = ("_cm", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._cm = asyncio.timeout(seconds)

    async def __aenter__(self) -> AsyncDeadline:
        await self._cm.__aenter__()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await self._cm.__aexit__(kind, exc, tb)
        except TimeoutError:
            raise _expired_error(self.seconds) from None


_ACTIVE: ContextVar[SyncDeadline | None] = ContextVar("wrapper_sync_deadline", default=None)


class SyncDeadline:
    """``with SyncDeadline(seconds):`` bounds the block in total for the sync client (see the module notes)."""

    __slots__ = ("_lock", "_sock", "_token", "at", "expired", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = 0.0
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._token: Any = None

    def __enter__(self) -> SyncDeadline:
        self.at = time.monotonic() + self.seconds
        self._token = _ACTIVE.set(self)
        _WATCHDOG.arm(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _ACTIVE.reset(self._token)
        with self._lock:
            self._sock = None
            expired = self.expired
            self.expired = True  # a late watchdog pass finds nothing left to shut
        if expired and isinstance(exc, (httpx.HTTPError, OSError)):
            raise _expired_error(self.seconds) from None

    def _attach(self, sock: socket.socket) -> None:
        with self._lock:
            if not self.expired:
                self._sock = sock
                return
        _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self.expired:
                return
            self.expired = True
            sock, self._sock = self._sock, None
        if sock is not None:
            _shutdown(sock)


def attach(response: httpx.Response) -> None:
    """Give the deadline of the attempt in flight (if any) the socket ``response`` is read from."""
    deadline = _ACTIVE.get()
    if deadline is None:
        return
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        deadline._attach(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread per process that expires :class:`SyncDeadline` objects at their time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, SyncDeadline]] = []
        self._cond = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: SyncDeadline) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wrapper-deadlines", daemon=True)
                self._thread.start()
            wake = not self._heap or deadline.at < self._heap[0][0]
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if wake:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                at, _, deadline = self._heap[0]
                now = time.monotonic()
                if at > now:
                    self._cond.wait(at - now)
                    continue
                heapq.heappop(self._heap)
            deadline._expire()  # outside the lock: shutting a socket may take a moment


_WATCHDOG = _Watchdog()
