"""Measure how precisely the rate limiter holds a configured rate, as seen by a loopback server counting requests.

Run: ``.venv/bin/python benchmarks/limiter_precision.py [--rpm 600] [--seconds 10] [--processes 4]``.

A stdlib HTTP server on 127.0.0.1 (a random free port) stamps every request it receives. Each row drives it for
``--seconds`` through one backend: ``none`` (no limiter, 2 s, 1 process: the baseline measured in the same run,
showing the server and client go far faster than the limit, so the limiter is what sets the pace), ``memory``
(1 process, 4 threads), ``sqlite`` and ``redis`` (``--processes`` processes of 4 threads sharing one budget).

Columns: the achieved rate (requests / run length; it includes the opening burst of a full window) and the steady
rate after that burst (``(n - limit) / (last - first arrival)``), both against ``rpm/60``; then, over sliding
``[t, t + 1 s)`` windows starting at each request, the most requests in a window and how many windows held more
than the per-second limit ``ceil(rpm/60)`` -- once by the server's arrival times, once by the sender's time right
after ``acquire`` returned -- and the 99th percentile of sender-to-server transit. A window over the limit on
these outside clocks means a request was delayed (scheduling, GIL, transit) by more than the limiter's 25 ms margin
after it was admitted; the buckets' own stamps are checked exactly by tests/integration/test_limiter_redis.py.

Bounded: each run stops at its deadline or after ``--max-requests``; loopback only; Redis keys and the SQLite file
are unique to the run and removed afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
import socket
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, ClassVar

from wrapper._policies._limiter import RateLimiter  # the component under test (not part of the public API)

THREADS = 4


class _Counter(BaseHTTPRequestHandler):
    """Answers every GET with 200 and records its arrival time."""

    protocol_version = "HTTP/1.1"
    arrivals: ClassVar[list[float]] = []
    sent: ClassVar[list[float]] = []  # the client's time.time() right after its acquire returned
    lock: ClassVar[threading.Lock] = threading.Lock()

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        now = time.time()
        with self.lock:
            self.arrivals.append(now)
            self.sent.append(float(self.path.partition("?t=")[2] or "nan"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return None


def _drive(backend: str, key: str, rpm: int, seconds: float, port: int, cap: int, barrier: Barrier | None) -> int:
    """One process: THREADS threads acquire (unless backend is none) and send GETs until the deadline or the cap."""
    limiter = None if backend == "none" else RateLimiter(rpm=rpm, tpm=None, max_wait=60.0, backend=backend, key=key)
    sent = [0] * THREADS
    if barrier is not None:
        barrier.wait(timeout=60)
    end = time.time() + seconds

    def loop(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while sent[i] < cap // THREADS:
            if limiter is not None:
                limiter.acquire()
            sent_at = time.time()
            if sent_at >= end:
                break
            conn.request("GET", f"/?t={sent_at!r}")
            conn.getresponse().read()
            sent[i] += 1
        conn.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if limiter is not None:
        limiter.close()
    return sum(sent)


def _drive_process(out: Any, *args: Any) -> None:
    """A spawned process: run :func:`_drive` and report how many requests it sent."""
    out.put(_drive(*args))


def _windows(arrivals: list[float], limit: int) -> tuple[int, int]:
    """(most arrivals in any [t, t + 1 s) window starting at an arrival, how many such windows exceed ``limit``)."""
    best, over, j = 0, 0, 0
    for i, start in enumerate(arrivals):
        j = max(j, i)
        while j < len(arrivals) and arrivals[j] < start + 1.0:
            j += 1
        best, over = max(best, j - i), over + (j - i > limit)
    return best, over


def _run(backend: str, processes: int, args: argparse.Namespace, port: int) -> tuple[list[float], list[float]]:
    """Drive the server through ``backend`` from ``processes`` processes; returns (arrival, sent) times."""
    with _Counter.lock:
        _Counter.arrivals.clear()
        _Counter.sent.clear()
    key = f"bench-limiter-{uuid.uuid4().hex}"
    seconds = min(args.seconds, 2.0) if backend == "none" else args.seconds
    if processes == 1:
        _drive(backend, key, args.rpm, seconds, port, args.max_requests, None)
    else:
        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(processes), ctx.Queue()
        procs = [ctx.Process(target=_drive_process, args=(out, backend, key, args.rpm, seconds, port,
                                                          args.max_requests // processes, barrier))
                 for _ in range(processes)]
        for p in procs:
            p.start()
        try:
            for _ in procs:
                out.get(timeout=seconds + 120)
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.terminate()
        if backend.startswith("redis://"):
            _delete_redis_keys(backend, key)
    with _Counter.lock:
        return list(_Counter.arrivals), list(_Counter.sent)


def _delete_redis_keys(url: str, key: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.delete(f"{key}:requests", f"{key}:tokens", f"{key}:lock")
    client.close()


def _redis_up(url: str) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpm", type=int, default=600, help="configured requests per minute (default 600 = 10/s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each limited run")
    parser.add_argument("--processes", type=int, default=4, help="processes sharing the sqlite/redis budget")
    parser.add_argument("--max-requests", type=int, default=20_000, help="hard cap on requests per run")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL for the redis row")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    per_s, limit = args.rpm / 60, math.ceil(args.rpm / 60)
    with tempfile.TemporaryDirectory() as tmp:
        rows: list[tuple[str, int]] = [("none", 1), ("memory", 1),
                                       (f"sqlite://{Path(tmp) / 'limiter.db'}", args.processes)]
        if _redis_up(args.redis):
            rows.append((args.redis, args.processes))
        else:
            print(f"(redis row skipped: {args.redis} is unreachable)")
        print(f"configured {args.rpm} RPM = {per_s:g}/s (limit {limit} per 1 s window); {args.seconds:g} s per run\n")
        print(f"{'':<46}{'at the server':>32}   {'at the sender':>21}")
        print(f"{'backend':<7} {'procs':>5} {'conf./s':>7} {'achieved/s':>10} {'% conf.':>8} {'steady/s':>8} "
              f"{'% conf.':>8} {'max in 1 s':>10} "
              f"{'windows over':>12}   {'max in 1 s':>10} {'windows over':>12} {'p99 transit ms':>14}")
        for backend, processes in rows:
            arrivals, sent = _run(backend, processes, args, port)
            seconds = min(args.seconds, 2.0) if backend == "none" else args.seconds
            achieved = len(arrivals) / seconds
            span = max(arrivals) - min(arrivals) if arrivals else 0.0
            steady = (len(arrivals) - limit) / span if span > 0 else math.nan
            most, over = _windows(sorted(arrivals), limit)
            most_sent, over_sent = _windows(sorted(sent), limit)
            transit = sorted(a - t for a, t in zip(arrivals, sent, strict=True))
            p99 = 1000 * transit[int(0.99 * (len(transit) - 1))] if transit else math.nan
            name, n = backend.split(":", 1)[0], len(arrivals)
            limited = name != "none"
            print(f"{name:<7} {processes:>5} {f'{per_s:g}' if limited else '-':>7} {achieved:>10.2f} "
                  f"{f'{100 * achieved / per_s:.1f}%' if limited else '-':>8} "
                  f"{f'{steady:.2f}' if limited else '-':>8} {f'{100 * steady / per_s:.1f}%' if limited else '-':>8} "
                  f"{most:>10} "
                  f"{f'{over}/{n}' if limited else '-':>12}   {most_sent:>10} "
                  f"{f'{over_sent}/{n}' if limited else '-':>12} {p99:>14.2f}")
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
