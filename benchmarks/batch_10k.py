"""Benchmark (not a test): a 10,000-row ``batch`` against the loopback fake server: rows/s, peak RSS, ledger cost.

Run: ``.venv/bin/python benchmarks/batch_10k.py [--rows 10000] [--concurrency 32] [--rounds 3]`` (about 2 min a round).

The fake Together server runs in its own process (``python -m wrapper.testing``, no injected faults or latency),
and every configuration runs in a fresh child process, so each peak RSS (``resource.getrusage`` ``ru_maxrss``)
and CPU time is that configuration's alone. All rows in the same run, against the same server:

* ``raw aiohttp``: the baseline -- the same POSTs with the same concurrency, each answer parsed and appended to
  a JSONL file; no validation, limiter, breaker, ledger, retries or resume.
* ``batch, memory ledger``: the real ``batch`` path (``run_job``: check the input, lock and read the output,
  estimate, then workers through ``AsyncClient``), rate limit 1,000,000/min (on, never binding), no budget,
  a live progress bar drawn to /dev/null as if to a terminal.
* ``batch, SQLite ledger + budget``: the same with the default kind of ledger (a SQLite file) and a budget, so
  every row makes an atomic reservation and a settlement. Its extra time per row over the memory ledger is the
  ledger overhead.
* ``resume, nothing left``: the same command again on the finished output: read and check 10,000 input rows,
  read 10,000 result lines, find nothing to send.
* ``batch, memory, aiohttp backend``: the second row with ``TOGETHER_HTTP_BACKEND=aiohttp`` (httpx-aiohttp's
  transport instead of httpx's own pool).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

CONFIGS = ("raw aiohttp", "batch, memory ledger", "batch, SQLite ledger + budget", "resume, nothing left",
           "batch, memory, aiohttp backend")


def _write_input(path: Path, rows: int) -> None:
    with path.open("w") as handle:
        for i in range(rows):
            handle.write(json.dumps({"id": f"row-{i:05d}", "prompt": f"Summarise item {i} in a few words."}) + "\n")


async def _raw(url: str, rows: list[dict[str, Any]], out: Path, concurrency: int) -> int:
    import aiohttp

    queue = iter(rows)
    headers = {"Authorization": "Bearer bench-key"}
    with out.open("a") as sink:
        async with aiohttp.ClientSession(headers=headers) as session:

            async def worker() -> None:
                for row in queue:
                    body = {"model": "Qwen/Qwen2.5-32B-Instruct-Turbo", "max_tokens": 64,
                            "messages": [{"role": "user", "content": row["prompt"]}]}
                    async with session.post(f"{url}/chat/completions", json=body) as resp:
                        data = await resp.json()
                    sink.write(json.dumps({"id": row["id"], "text": data["choices"][0]["message"]["content"]}) + "\n")
                    sink.flush()

            await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(rows)


def _batch(url: str, source: Path, out: Path, concurrency: int, ledger: str, budget: bool,
           backend: str = "httpx") -> int:
    from rich.console import Console

    from wrapper import Settings
    from wrapper.cli._job import BatchJob, run_job

    settings = Settings(api_key="bench-key", base_url=url, ledger_url=ledger, rate_limit_rpm=1_000_000,
                        max_estimated_cost=Decimal("1000") if budget else None, http_backend=backend)
    job = BatchJob(input=source, output=out, concurrency=concurrency, max_tokens=64, yes=True)
    with open("/dev/null", "w") as devnull:
        result = run_job(job, Console(file=devnull, force_terminal=True, width=120), settings=settings,
                         interactive=False)
    if result.code != 0:
        raise SystemExit(f"batch exited {result.code}")
    return result.stats.done if result.stats is not None else 0


def child(args: argparse.Namespace) -> None:
    """Run one configuration in this process and print its figures as one JSON line."""
    folder = Path(args.dir)
    source, out = folder / "input.jsonl", folder / f"out-{args.child}.jsonl"
    start, cpu = time.perf_counter(), time.process_time()
    if args.child == 0:
        rows = [json.loads(line) for line in source.read_text().splitlines()]
        done = asyncio.run(_raw(args.url, rows, out, args.concurrency))
    elif args.child == 4:
        done = _batch(args.url, source, out, args.concurrency, "memory", False, backend="aiohttp")
    elif args.child == 3:
        out = folder / "out-2.jsonl"
        done = _batch(args.url, source, out, args.concurrency, f"sqlite:///{folder / 'ledger.db'}", True)
    else:
        ledger = "memory" if args.child == 1 else f"sqlite:///{folder / 'ledger.db'}"
        done = _batch(args.url, source, out, args.concurrency, ledger, args.child == 2)
    seconds = time.perf_counter() - start
    lines = out.read_text().count("\n")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sent": done, "lines": lines, "seconds": seconds, "cpu": time.process_time() - cpu,
                      "rss_mb": rss_mb}))


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds and CPU over the rounds (figures of that same round), the largest peak RSS of any round."""
    ordered = sorted(results, key=lambda r: r["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    middle["rss_mb"] = max(r["rss_mb"] for r in results)
    return middle


def _table(rows: int, rounds: list[list[dict[str, Any]]]) -> None:
    results = [_median([one[i] for one in rounds]) for i in range(len(CONFIGS))]
    raw = results[0]["seconds"]
    print(f"\n{rows:,} rows, concurrency {ARGS.concurrency}, loopback fake server in its own process; "
          f"median of {len(rounds)} round(s), peak RSS the largest of any round\n")
    print(f"{'configuration':<32} {'sent':>7} {'out lines':>9} {'seconds':>8} {'rows/s':>8} {'vs raw':>7} "
          f"{'CPU s':>7} {'CPU µs/row':>10} {'peak RSS':>9}")
    for name, r in zip(CONFIGS, results, strict=True):
        rate = r["sent"] / r["seconds"] if r["sent"] else 0.0
        per_row = r["cpu"] / r["sent"] * 1e6 if r["sent"] else 0.0
        ratio = f"{r['seconds'] / raw:.2f}x" if r["sent"] else "-"
        print(f"{name:<32} {r['sent']:>7,} {r['lines']:>9,} {r['seconds']:>8.2f} {rate:>8,.0f} {ratio:>7} "
              f"{r['cpu']:>7.2f} {per_row:>10,.0f} {r['rss_mb']:>6.1f} MB")
    extra = sorted((one[2]["seconds"] - one[1]["seconds"]) / rows * 1e6 for one in rounds)
    extra_cpu = sorted((one[2]["cpu"] - one[1]["cpu"]) / rows * 1e6 for one in rounds)
    print(f"\nledger overhead per row (SQLite + budget minus memory ledger, same round): median "
          f"{extra[len(extra) // 2]:+,.0f} µs wall (range {extra[0]:+,.0f} .. {extra[-1]:+,.0f}), "
          f"{extra_cpu[len(extra_cpu) // 2]:+,.0f} µs CPU")
    print(f"resume of a finished {rows:,}-row job: {results[3]['seconds']:.2f} s, nothing sent")


def _round(url: str, folder: Path) -> list[dict[str, Any]]:
    for stale in [*folder.glob("out-*.jsonl"), *folder.glob("ledger.db*")]:
        stale.unlink()
    results = []
    for index, name in enumerate(CONFIGS):
        print(f"  {name} ...", flush=True)
        out = subprocess.run([sys.executable, __file__, "--child", str(index), "--url", url, "--dir", str(folder),
                              "--rows", str(ARGS.rows), "--concurrency", str(ARGS.concurrency)],
                             check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def main() -> None:
    """Start the server process, run every configuration in its own child each round, print the table."""
    with tempfile.TemporaryDirectory(prefix="batch10k-") as tmp:
        folder = Path(tmp)
        _write_input(folder / "input.jsonl", ARGS.rows)
        server = subprocess.Popen([sys.executable, "-m", "wrapper.testing", "--port", "0"], stdout=subprocess.PIPE,
                                  text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            rounds = []
            for number in range(1, ARGS.rounds + 1):
                print(f"round {number} of {ARGS.rounds}", flush=True)
                rounds.append(_round(url, folder))
        finally:
            server.terminate()
            server.wait(timeout=30)
        _table(ARGS.rows, rounds)


parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
parser.add_argument("--rows", type=int, default=10_000)
parser.add_argument("--concurrency", type=int, default=32)
parser.add_argument("--rounds", type=int, default=3, help="each configuration runs once per round; medians shown")
parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
parser.add_argument("--url", default="", help=argparse.SUPPRESS)
parser.add_argument("--dir", default="", help=argparse.SUPPRESS)
ARGS = parser.parse_args()

if __name__ == "__main__":
    child(ARGS) if ARGS.child is not None else main()
