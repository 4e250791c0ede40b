"""Fault bookkeeping for the fake Together server: what can go wrong, which request gets it, and what happened.

Pure data and decisions, no sockets: ``Fault`` describes one injected failure, ``FaultPicker`` chooses the fault
for each request (a scripted FIFO first, then seeded random draws), ``WindowCounter`` records arrival times and
enforces/measures "N requests per W seconds", and ``FakeStats`` is the tally a test asserts on.
"""

from __future__ import annotations

import bisect
import collections
import random
import threading
from collections.abc import Mapping
from typing import Any, Literal, get_args

import attrs

__all__ = ["FAULT_KINDS", "FakeStats", "Fault", "FaultKind", "FaultPicker", "RequestRecord", "WindowCounter"]

FaultKind = Literal[
    "ok",  # no fault: a normal answer
    "latency",  # wait ``delay`` seconds, then answer normally
    "rate_limit",  # 429 dynamic_request_limited with retry-after, retry-after-ms and x-ratelimit-reset hints
    "rate_limit_no_hints",  # 429 dynamic_request_limited without any of those three headers
    "server_error",  # JSON error body with ``status`` (500 by default; 502/503/504 via ``status``)
    "html_error",  # an HTML error page (503 by default), as a proxy in front of Together would send
    "reset_before_headers",  # TCP reset (RST) after reading the request, before any byte of the answer
    "reset_after_headers",  # headers promising the full body, a part of it, then a TCP reset
    "truncated_json",  # 200 with a JSON body cut in half; content-length matches the cut body
    "stream_cut",  # SSE: ``after_chunks`` chunks, then the connection is closed (no final chunk, no [DONE])
    "stream_stall",  # SSE: ``after_chunks`` chunks, silence for ``delay`` seconds, then the rest of the stream
    "stream_error_event",  # SSE: ``after_chunks`` chunks, then ``data: {"error": {...}}`` and the end (no [DONE])
]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
_DEFAULT_STATUS = {"rate_limit": 429, "rate_limit_no_hints": 429, "server_error": 500, "html_error": 503}
_TIMED = frozenset({"latency", "stream_stall"})


@attrs.define(frozen=True)
class Fault:
    """One injected failure for one request.

    Attributes:
        kind: what goes wrong (see ``FaultKind``).
        status: the HTTP status for the status kinds (429, 5xx); None = the kind's default.
        delay: seconds of latency (``latency``) or silence (``stream_stall``); also delays other kinds' answers.
        headers: extra response headers; they override the server's own (e.g. a custom ``retry-after``).
        after_chunks: for the stream kinds, how many content chunks go out before the fault.
        retry_after: the hint for ``rate_limit`` in seconds; None = the server's default.

    A fault that only makes sense for streams degrades on a JSON request: ``stream_cut`` behaves like
    ``reset_after_headers``, ``stream_stall`` sends half the body, stalls, then the rest, and
    ``stream_error_event`` answers a 500; ``truncated_json`` on a stream request behaves like ``stream_cut``.
    """

    kind: FaultKind = attrs.field(validator=attrs.validators.in_(FAULT_KINDS))
    status: int | None = None
    delay: float = 0.0
    headers: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    after_chunks: int = 0
    retry_after: float | None = None

    @property
    def effective_status(self) -> int:
        """The status this fault answers with (its own, else the kind's default, else 200)."""
        return self.status if self.status is not None else _DEFAULT_STATUS.get(self.kind, 200)

    @classmethod
    def parse(cls, spec: str, *, delay: float = 0.25, after_chunks: int = 2) -> Fault:
        """Build a fault from ``"kind"`` or ``"kind:status"`` (e.g. ``"server_error:503"``).

        Args:
            spec: the fault name, optionally with a status after a colon.
            delay: seconds used by the timed kinds (``latency``, ``stream_stall``).
            after_chunks: chunks sent before a stream fault.

        Raises:
            ValueError: unknown kind or a status that is not an integer.
        """
        kind, _, status = spec.partition(":")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        return cls(
            kind=kind,  # type: ignore[arg-type]  # checked against FAULT_KINDS just above
            status=int(status) if status else None,
            delay=delay if kind in _TIMED else 0.0,
            after_chunks=after_chunks,
        )


OK = Fault("ok")


class FaultPicker:
    """Choose the fault for each request: scripted faults first (FIFO), then seeded random draws.

    Thread-safe: ``script`` may be called from a test thread while the server thread calls ``next``.
    """

    def __init__(self, rates: Mapping[Fault, float], seed: int) -> None:
        total = sum(rates.values())
        if any(p < 0 for p in rates.values()) or total > 1.0 + 1e-9:
            raise ValueError(f"fault rates must be >= 0 and sum to <= 1, got {total}")
        self._rng = random.Random(seed)
        self._queue: collections.deque[Fault] = collections.deque()
        self._lock = threading.Lock()
        self._bounds: list[float] = []
        self._faults: list[Fault] = []
        acc = 0.0
        for fault, p in rates.items():
            if p > 0:
                acc += p
                self._bounds.append(acc)
                self._faults.append(fault)

    def script(self, faults: list[Fault]) -> None:
        """Queue faults for the next requests, in order."""
        with self._lock:
            self._queue.extend(faults)

    def clear(self) -> None:
        """Drop every scripted fault not yet used."""
        with self._lock:
            self._queue.clear()

    def next(self) -> Fault:
        """Return the fault for the next request (``OK`` when nothing is scripted and no draw hits)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if not self._faults:
                return OK
            i = bisect.bisect_right(self._bounds, self._rng.random())
            return self._faults[i] if i < len(self._faults) else OK


class WindowCounter:
    """Arrival times of every chat request, plus optional enforcement of ``limit`` requests per ``window`` s."""

    def __init__(self, limit: tuple[int, float] | None) -> None:
        if limit is not None and (limit[0] < 1 or limit[1] <= 0):
            raise ValueError(f"limit must be (N >= 1, W > 0), got {limit}")
        self.limit = limit
        self.arrivals: list[float] = []
        self._admitted: collections.deque[float] = collections.deque()

    def arrive(self, now: float) -> None:
        """Record one arrival (every chat request, whatever its answer)."""
        self.arrivals.append(now)

    def admit(self, now: float) -> tuple[bool, int, float]:
        """Try to admit a request at ``now``: (admitted, remaining after it, seconds until a slot frees)."""
        if self.limit is None:
            return True, 9999, 1.0
        n, window = self.limit
        admitted = self._admitted
        while admitted and admitted[0] <= now - window:
            admitted.popleft()
        ok = len(admitted) < n
        if ok:
            admitted.append(now)
        reset = admitted[0] + window - now if admitted else 0.0
        return ok, n - len(admitted), max(reset, 0.0)

    def max_in_window(self, window: float) -> int:
        """The most arrivals in any interval ``(t - window, t]``, i.e. any sliding window of ``window`` seconds."""
        times = sorted(self.arrivals)
        best = start = 0
        for end, t in enumerate(times):
            while times[start] <= t - window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def clear(self) -> None:
        """Forget every arrival and admission."""
        self.arrivals.clear()
        self._admitted.clear()


@attrs.define
class RequestRecord:
    """What the server saw and did for one chat request (the body stays in memory only, never written out)."""

    request_id: str
    path: str
    model: str | None
    stream: bool
    fault: str
    status: int  # 0 = no HTTP answer at all (reset before headers)
    arrived: float
    body: Mapping[str, Any] | None = attrs.field(default=None, repr=False)


@attrs.define
class FakeStats:
    """The live tally of a fake server; read it after the requests finish (do not mutate it)."""

    total: int = 0
    by_path: collections.Counter[str] = attrs.field(factory=collections.Counter)
    by_fault: collections.Counter[str] = attrs.field(factory=collections.Counter)
    by_status: collections.Counter[int] = attrs.field(factory=collections.Counter)
    requests: list[RequestRecord] = attrs.field(factory=list)
    request_ids: list[str] = attrs.field(factory=list)
    succeeded: set[str] = attrs.field(factory=set)
    models_requests: int = 0  # GET /models requests (not in ``total``, which counts chat requests)

    def clear(self) -> None:
        """Reset every count and list."""
        self.total = 0
        for counter in (self.by_path, self.by_fault, self.by_status):
            counter.clear()
        self.requests.clear()
        self.request_ids.clear()
        self.succeeded.clear()
        self.models_requests = 0
