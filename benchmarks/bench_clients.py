"""Benchmark (not a test): client CPU per request, wrapper vs the bare generated call vs raw httpx vs openai/together.

Run: ``.venv/bin/python benchmarks/bench_clients.py [--sync-requests 1500] [--async-requests 3000] [--rounds 3]``
(requests per row, measured after a warm-up and split evenly over the rounds).

One fake Together server (``python -m wrapper.testing``, no faults, no latency) runs in its own process, so
``time.process_time()`` here counts the client alone; every row talks to that same server in the same run.
Rounds are interleaved (each round measures every row once, the order rotated per round) and the tables show
the median over rounds of CPU µs per request and requests/s. Three tables (issue 11), each with its baseline,
the **bare generated call** (see ``_client_rows``): ``sync_detailed``/``asyncio_detailed`` with a typed body on a
generated client whose httpx client has the wrapper's options and transport:

* sync, sequential;
* async at ``--concurrency`` (64) on the default transport (httpx's own);
* async at the same concurrency on the opt-in aiohttp backend (httpx-aiohttp's transport,
  ``TOGETHER_HTTP_BACKEND=aiohttp``), with raw aiohttp and the SDKs' own ``DefaultAioHttpClient`` for reference.

The wrapper rows: "every layer on" (rate limiter at 10,000,000 RPM, so on but never waiting; breakers; budget
with the default SQLite ledger in a temp folder; metrics) and "ledger=memory". Targets: the wrapper with every
layer on <= 1.15x the bare generated call in each table; >= 1.4x cheaper than the openai and together sync
clients; on the aiohttp backend >= 2x cheaper than their *default* async clients (the httpx table's rows). The
server's CPU per request (from /proc) shows when the server, not the client, set the pace. The openai/together
rows need ``pip install -e '.[bench]'`` and are skipped when missing. Loopback only.
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
from _client_rows import (
    AIO,
    BARE,
    BARE_REUSED,
    SDKS,
    WRAPPER,
    WRAPPER_MEMORY,
    AsyncRow,
    SyncRow,
    async_rows,
    sync_rows,
)

Sample = tuple[float, float, float]  # (client CPU s/request, requests/s, server CPU s/request)

PIPELINE_LIMIT = 1.15  # the wrapper, every layer on, over the bare generated call
SYNC_SDK_FACTOR = 1.4  # the SDKs' CPU per request over the wrapper's, sync
ASYNC_SDK_FACTOR = 2.0  # the SDKs' default async clients over the wrapper on the aiohttp backend


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


def cpu_of(results: dict[str, list[Sample]], name: str) -> float:
    """The median client CPU µs per request of a row."""
    return median([s[0] for s in results[name]]) * 1e6


def table(rows: Sequence[SyncRow | AsyncRow], results: dict[str, list[Sample]], base: str) -> str:
    base_cpu = cpu_of(results, base)
    base_rate = median([s[1] for s in results[base]])
    lines = []
    for row in rows:
        samples = results[row.name]
        cpu = [s[0] * 1e6 for s in samples]
        rate = median([s[1] for s in samples])
        lines.append([row.name, f"{median(cpu):,.0f}", f"{min(cpu):,.0f}-{max(cpu):,.0f}",
                      ratio(median(cpu), base_cpu), f"{rate:,.0f}", ratio(rate, base_rate),
                      f"{median([s[2] for s in samples]) * 1e6:,.0f}", row.note])
    header = ["client", "CPU µs/req", "min-max", "x bare CPU", "req/s", "x bare req/s", "server µs/req", "note"]
    return render_table(header, lines)


def overhead(results: dict[str, list[Sample]], bare: str, names: Sequence[str]) -> list[str]:
    """The pipeline's cost per call: each wrapper row minus the bare generated call, paired per round."""
    out = []
    for name in names:
        if name not in results:
            continue
        diffs = [(w[0] - b[0]) * 1e6 for w, b in zip(results[name], results[bare], strict=True)]
        out.append(f"  {name}: {median(diffs):+,.0f} µs CPU per call over the {bare} (paired per round)")
    return out


def pipeline_verdict(results: dict[str, list[Sample]], name: str, bare: str, label: str) -> str:
    value = cpu_of(results, name) / cpu_of(results, bare)
    state = "met" if value <= PIPELINE_LIMIT else "MISSED"
    per_round = median([w[0] / b[0] for w, b in zip(results[name], results[bare], strict=True)])
    return (f"target {label}: {name} <= {PIPELINE_LIMIT}x {bare}: {value:.2f}x "
            f"({cpu_of(results, name):,.0f} vs {cpu_of(results, bare):,.0f} µs; median of the per-round ratios "
            f"{per_round:.2f}x) -> {state}")


def sdk_verdicts(results: dict[str, list[Sample]], name: str, sdk_names: Sequence[str], factor: float,
                 label: str) -> list[str]:
    out = []
    ours = cpu_of(results, name)
    for sdk in sdk_names:
        if sdk not in results:
            out.append(f"target {label}: {sdk} not installed -> not measured")
            continue
        value = cpu_of(results, sdk) / ours
        state = "met" if value >= factor else "MISSED"
        out.append(f"target {label}: {sdk} costs >= {factor}x {name}: {value:.2f}x "
                   f"({cpu_of(results, sdk):,.0f} vs {ours:,.0f} µs) -> {state}")
    return out


def sdk_names(results: dict[str, list[Sample]], suffix: str = "") -> list[str]:
    """The SDK rows measured (default clients unless ``suffix``), else the bare SDK names to report missing."""
    found = [n for n in results for sdk in SDKS if n.startswith(f"{sdk} SDK") and n.endswith(suffix)
             and (suffix or not n.endswith(AIO))]
    return found or list(SDKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sync-requests", type=int, default=1500, help="sequential requests per sync row")
    parser.add_argument("--async-requests", type=int, default=3000, help="requests per async row")
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
                  f"(medians of the rounds; 'x bare' = ratio to the {BARE})")
            print(table(srows, sres, BARE))
            print("\n".join(overhead(sres, BARE, [WRAPPER, WRAPPER_MEMORY])))
            print("\n".join(overhead(sres, BARE_REUSED, [WRAPPER, WRAPPER_MEMORY])))
            print()
            lines.append(pipeline_verdict(sres, WRAPPER, BARE, "sync"))
            lines.append(f"  (stricter, vs the {BARE_REUSED}: {cpu_of(sres, WRAPPER) / cpu_of(sres, BARE_REUSED):.2f}x;"
                         f" {WRAPPER_MEMORY}: {cpu_of(sres, WRAPPER_MEMORY) / cpu_of(sres, BARE):.2f}x {BARE})")
            lines += sdk_verdicts(sres, WRAPPER, sdk_names(sres), SYNC_SDK_FACTOR, "sync")
        if args.only in (None, "async"):
            arows, ares = asyncio.run(run_async(server.url, folder, args, server.pid))
            for group, title in (("httpx", "default transport (httpx's own)"),
                                 ("aiohttp", "aiohttp backend (httpx-aiohttp, TOGETHER_HTTP_BACKEND=aiohttp)")):
                suffix = AIO if group == "aiohttp" else ""
                print(f"ASYNC, {title}, concurrency {args.concurrency}: {args.async_requests:,} requests per row in "
                      f"{args.rounds} interleaved rounds (all async rows of both tables interleaved; medians; "
                      f"'x bare' = ratio to the {BARE}{suffix})")
                print(table([r for r in arows if r.group == group], ares, BARE + suffix))
                print("\n".join(overhead(ares, BARE + suffix, [WRAPPER + suffix, WRAPPER_MEMORY + suffix])))
                print()
            lines.append(pipeline_verdict(ares, WRAPPER, BARE, "async, default transport"))
            lines.append(pipeline_verdict(ares, WRAPPER + AIO, BARE + AIO, "async, aiohttp backend"))
            lines += sdk_verdicts(ares, WRAPPER + AIO, sdk_names(ares), ASYNC_SDK_FACTOR, "async, aiohttp backend")
            lines.append(f"  (for reference: {WRAPPER} on the default transport vs the SDKs' default async clients: "
                         + ", ".join(f"{n} {cpu_of(ares, n) / cpu_of(ares, WRAPPER):.2f}x" for n in sdk_names(ares)
                                     if n in ares) + ")")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
