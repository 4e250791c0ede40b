"""Measure what the ledger adds to one call: µs per estimate, and per reserve + settle, on each store.

Run: ``.venv/bin/python benchmarks/ledger_overhead.py [--calls 2000] [--postgres URL]``. Prints one table; every
figure is measured in this run, against a no-op baseline measured the same way (a pair of empty calls where the
reserve and the settle would be). PostgreSQL rows appear when the server answers (default: the local test server;
a fresh schema is created and dropped).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from wrapper._ledger._estimator import Estimate
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import PriceTable
from wrapper._ledger._store import MemoryStore, Store, open_store

MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
MESSAGES: list[dict[str, object]] = [
    {"role": "system", "content": "You are a careful assistant. Answer briefly."},
    {"role": "user", "content": "Summarise this report in three bullet points. " + "Lorem ipsum dolor. " * 100},
]


def void(_: object) -> None:
    """Discard a value (so a timed step has the type of a no-op)."""


def _time(step: Callable[[], None], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        step()
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    return samples


def _noop_pair() -> Callable[[], None]:
    def reserve() -> object:
        return None

    def settle(_: object) -> None:
        return None

    return lambda: settle(reserve())


def _cycles(ledger: Ledger, estimate: Estimate, calls: int) -> tuple[list[float], list[float], list[float]]:
    """Time ``calls`` reserve + settle_ok cycles; return (reserve, settle, both) samples in µs."""
    reserves, settles, both = [], [], []
    for _ in range(calls):
        start = time.perf_counter_ns()
        r = ledger.reserve(estimate)
        mid = time.perf_counter_ns()
        ledger.settle_ok(r, usage_prompt=700, usage_completion=120, request_id="req", latency_s=0.5, attempt=1)
        end = time.perf_counter_ns()
        reserves.append((mid - start) / 1000.0)
        settles.append((end - mid) / 1000.0)
        both.append((end - start) / 1000.0)
    return reserves, settles, both


def _stores(tmp: Path, pg_url: str | None) -> list[tuple[str, Callable[[], Store], Callable[[], None]]]:
    made: list[tuple[str, Callable[[], Store], Callable[[], None]]] = [
        ("memory", MemoryStore, lambda: None),
        ("sqlite (tmp file, WAL)", lambda: open_store(f"sqlite://{tmp}/bench.db"), lambda: None),
    ]
    if pg_url:
        try:
            import psycopg

            admin = psycopg.connect(pg_url, autocommit=True, connect_timeout=2)
        except Exception as exc:  # unreachable or psycopg missing: say so, measure the rest
            print(f"postgres skipped: {exc}")
            return made
        schema = f"wrapper_ledger_bench_{uuid.uuid4().hex[:10]}"

        def drop() -> None:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.close()

        made.append(("postgres (localhost)", lambda: open_store(pg_url, schema=schema), drop))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL URL, or '' to skip")
    args = parser.parse_args()
    rows: list[tuple[str, list[float]]] = [("no-op baseline (reserve+settle)", _time(_noop_pair(), args.calls))]
    estimator_ledger = Ledger(store=MemoryStore(), prices=PriceTable.builtin())
    rows.append(("estimate() of a 2-message prompt",
                 _time(lambda: void(estimator_ledger.estimate(MODEL, MESSAGES, 256)), args.calls)))
    estimate = estimator_ledger.estimate(MODEL, MESSAGES, 256)
    with tempfile.TemporaryDirectory() as tmp:
        for name, open_, cleanup in _stores(Path(tmp), args.postgres or None):
            ledger = Ledger(store=open_(), prices=PriceTable.builtin(), limit=Decimal(10**9), run_id="bench")
            _cycles(ledger, estimate, min(200, args.calls))  # warm-up: connections, prepared statements
            reserves, settles, both = _cycles(ledger, estimate, args.calls)
            rows += [(f"{name}: reserve", reserves), (f"{name}: settle_ok", settles),
                     (f"{name}: reserve+settle", both)]
            ledger.close()
            cleanup()
    base = statistics.median(rows[0][1])
    print(f"\nledger overhead per call, {args.calls} calls each (µs; ratio = median / no-op median)\n")
    print(f"{'what':44} {'median':>9} {'p95':>9} {'p99':>9} {'ratio':>9}")
    for name, samples in rows:
        cuts = statistics.quantiles(samples, n=100)
        median = statistics.median(samples)
        print(f"{name:44} {median:9.1f} {cuts[94]:9.1f} {cuts[98]:9.1f} {median / base:9.0f}x")


if __name__ == "__main__":
    main()
