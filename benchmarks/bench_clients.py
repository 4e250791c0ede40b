"""Benchmark (not a test): client CPU per request and throughput, wrapper vs raw httpx/aiohttp vs openai/together.

Run: ``.venv/bin/python benchmarks/bench_clients.py [--sync-requests 2000] [--async-requests 5000] [--rounds 3]``
(requests per row, measured after a warm-up and split evenly over the rounds).

One fake Together server (``python -m wrapper.testing``, no faults, no latency) runs in its own process, so
``time.process_time()`` here counts the client alone; every row talks to that same server in the same run.
Rounds are interleaved (each round measures every row once, the order rotated per round) and the tables show
the median over rounds of CPU µs per request and requests/s, with the ratio to the baseline of the same table:

* sync, sequential: raw ``httpx.Client`` (post the JSON, ``json.loads`` the body) is the baseline;
* async, ``--concurrency`` workers (64): raw aiohttp is the baseline.

The wrapper rows: "every layer on" (rate limiter at 10,000,000 RPM, so on but never waiting; breakers; budget
with the default SQLite ledger in a temp folder; metrics), "ledger=memory", and "limiter+budget off". The "bare
generated client" row is ``together_api_client``'s ``sync_detailed``/``asyncio_detailed`` on the same transport
as the wrapper, so the difference between it and the wrapper is the pipeline's cost (issue 3). The server's CPU
per request (from /proc) shows when the server, not the client, set the pace. The openai/together SDK rows need
``pip install -e '.[bench]'`` and are skipped when missing. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_util import FakeServerProcess, machine_line, median, ratio, render_table
from _client_rows import AsyncRow, SyncRow, async_rows, sync_rows

Sample = tuple[float, float, float]  # (client CPU s/request, requests/s, server CPU s/request)

SYNC_TARGET = ("wrapper, every layer on", "raw httpx", 1.2)
ASYNC_TARGET = ("wrapper, every layer on", "raw aiohttp", 2.0)


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far, NaN off Linux."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_sync(call: Callable[[], str], n: int, pid: int) -> Sample:
    """Make ``n`` sequential requests; return the per-request client CPU, the rate and the server CPU."""
    gc.collect()
    srv, cpu, wall = server_cpu(pid), time.process_time(), time.perf_counter()
    for _ in range(n):
        call()
    wall, cpu, srv = time.perf_counter() - wall, time.process_time() - cpu, server_cpu(pid) - srv
    return cpu / n, n / wall, srv / n


async def measure_async(row: AsyncRow, n: int, concurrency: int, pid: int) -> Sample:
    """Make ``n`` requests from ``concurrency`` workers; same figures as :func:`measure_sync`."""
    share, extra = divmod(n, concurrency)

    async def worker(count: int) -> None:
        for _ in range(count):
            await row.call()

    gc.collect()
    srv, cpu, wall = server_cpu(pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    wall, cpu, srv = time.perf_counter() - wall, time.process_time() - cpu, server_cpu(pid) - srv
    return cpu / n, n / wall, srv / n


def rotated(items: Sequence[Any], by: int) -> list[Any]:
    """The items in a different order each round, so slow drift on a shared machine spreads over all rows."""
    k = by % len(items)
    return [*items[k:], *items[:k]]


def per_round(total: int, args: argparse.Namespace) -> int:
    """Requests per row in one round: the row's total split over the rounds."""
    rounds: int = args.rounds
    return max(1, -(-total // rounds))


def check_same_answer(answers: dict[str, str]) -> None:
    """Every client must have read the same answer text (so every row really parsed a real reply)."""
    if len(set(answers.values())) != 1:
        raise SystemExit(f"clients disagree on the answer: {answers}")


def run_sync(url: str, folder: str, args: argparse.Namespace,
             pid: int) -> tuple[list[SyncRow], dict[str, list[Sample]]]:
    rows = sync_rows(url, folder)
    results: dict[str, list[Sample]] = {row.name: [] for row in rows}
    try:
        answers = {}
        for row in rows:  # warm-up: connections, imports, caches, the ledger file
            for _ in range(args.warmup):
                answers[row.name] = row.call()
        check_same_answer(answers)
        for r in range(args.rounds):
            for row in rotated(rows, r):
                results[row.name].append(measure_sync(row.call, per_round(args.sync_requests, args), pid))
            print(f"  sync round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for row in rows:
            row.close()
    return rows, results


async def run_async(url: str, folder: str, args: argparse.Namespace,
                    pid: int) -> tuple[list[AsyncRow], dict[str, list[Sample]]]:
    rows = await async_rows(url, folder)
    results: dict[str, list[Sample]] = {row.name: [] for row in rows}
    try:
        answers = {}
        for row in rows:
            texts = await asyncio.gather(*(row.call() for _ in range(args.concurrency)))
            answers[row.name] = texts[0]
            await measure_async(row, args.warmup, args.concurrency, pid)
        check_same_answer(answers)
        for r in range(args.rounds):
            for row in rotated(rows, r):
                n = per_round(args.async_requests, args)
                results[row.name].append(await measure_async(row, n, args.concurrency, pid))
            print(f"  async round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for row in rows:
            await row.close()
    return rows, results


def table(rows: Sequence[SyncRow | AsyncRow], results: dict[str, list[Sample]], base: str) -> str:
    base_cpu = median([s[0] for s in results[base]])
    base_rate = median([s[1] for s in results[base]])
    lines = []
    for row in rows:
        samples = results[row.name]
        cpu = [s[0] * 1e6 for s in samples]
        rate = median([s[1] for s in samples])
        lines.append([row.name, f"{median(cpu):,.0f}", f"{min(cpu):,.0f}-{max(cpu):,.0f}",
                      ratio(median(cpu), base_cpu * 1e6), f"{rate:,.0f}", ratio(rate, base_rate),
                      f"{median([s[2] for s in samples]) * 1e6:,.0f}", row.note])
    header = ["client", "CPU µs/req", "min-max", "x base CPU", "req/s", "x base req/s", "server µs/req", "note"]
    return render_table(header, lines)


def overhead(results: dict[str, list[Sample]], bare: str, names: Sequence[str]) -> list[str]:
    """The pipeline's cost per call: each wrapper row minus the bare generated client, paired per round."""
    out = []
    for name in names:
        if name not in results:
            continue
        diffs = [(w[0] - b[0]) * 1e6 for w, b in zip(results[name], results[bare], strict=True)]
        out.append(f"  {name}: {median(diffs):+,.0f} µs CPU per call over the bare generated client "
                   f"({ratio(median([s[0] for s in results[name]]), median([s[0] for s in results[bare]]))})")
    return out


def verdict(results: dict[str, list[Sample]], target: tuple[str, str, float], label: str) -> str:
    name, base, limit = target
    value = median([s[0] for s in results[name]]) / median([s[0] for s in results[base]])
    state = "MET" if value <= limit else "MISSED"
    return f"target {label}: {name} CPU/request <= {limit}x {base}: {value:.2f}x -> {state}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sync-requests", type=int, default=2000, help="sequential requests per sync row")
    parser.add_argument("--async-requests", type=int, default=5000, help="requests per async row")
    parser.add_argument("--concurrency", type=int, default=64, help="async workers (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; tables show medians")
    parser.add_argument("--warmup", type=int, default=200, help="requests per row before measuring")
    parser.add_argument("--only", choices=("sync", "async"), default=None, help="run one half only")
    args = parser.parse_args()
    print(machine_line())
    with FakeServerProcess() as server, tempfile.TemporaryDirectory(prefix="bench-clients-") as folder:
        print(f"fake server {server.url} in its own process (pid {server.pid}); client pid {os.getpid()}\n")
        lines: list[str] = []
        if args.only in (None, "sync"):
            srows, sres = run_sync(server.url, folder, args, server.pid)
            print(f"SYNC, sequential: {args.sync_requests:,} requests per row in {args.rounds} interleaved rounds "
                  "(medians of the rounds; 'x base' = ratio to raw httpx)")
            print(table(srows, sres, "raw httpx"))
            print("\n".join(overhead(sres, "bare generated client", [r.name for r in srows if "wrapper" in r.name])))
            print()
            lines.append(verdict(sres, SYNC_TARGET, "sync"))
        if args.only in (None, "async"):
            arows, ares = asyncio.run(run_async(server.url, folder, args, server.pid))
            print(f"ASYNC, concurrency {args.concurrency}: {args.async_requests:,} requests per row in {args.rounds} "
                  "interleaved rounds (medians of the rounds; 'x base' = ratio to raw aiohttp)")
            print(table(arows, ares, "raw aiohttp"))
            print("\n".join(overhead(ares, "bare generated client", [r.name for r in arows if "wrapper" in r.name])))
            print()
            lines.append(verdict(ares, ASYNC_TARGET, "async"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
