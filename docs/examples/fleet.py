"""A fleet: several processes (on one or many machines) sharing one rate limit, one ledger and one budget.

Every process reads the same settings:

    TOGETHER_RATE_LIMIT_BACKEND=redis://redis-host:6379/0      one request/token budget per minute for all of them
    TOGETHER_RATE_LIMIT_KEY=stage1                             processes with the same key share the buckets
    TOGETHER_LEDGER_URL=postgresql://user@pg-host/db?schema=stage1   one ledger; reservations are transactions
    TOGETHER_RUN_ID=stage1-2026-11-29                          one run = one budget across the fleet
    MAX_ESTIMATED_COST=25.00

Here the "machines" are local processes, each taking every N-th prompt (the CLI's ``--shard I/N`` does the same
with a stable hash of the row id). At the end the parent reads the shared ledger without an API key.

Run: (the variables above) TOGETHER_API_KEY=... python docs/examples/fleet.py 4
"""

from __future__ import annotations

import multiprocessing
import os
import sys

from wrapper import Client, Settings, TogetherError, reports

PROMPTS = [f"Translate to French: item number {i}." for i in range(24)]


def worker(index: int, workers: int) -> int:
    """One member of the fleet: its share of the prompts, through the shared limiter, ledger and budget."""
    sent = 0
    with Client() as client:
        for prompt in PROMPTS[index::workers]:
            try:
                client.chat.completions.create(messages=[{"role": "user", "content": prompt}], max_tokens=32)
                sent += 1
            except TogetherError as exc:
                print(f"worker {index}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return sent


def main(workers: int) -> None:
    settings = Settings.from_env()
    if not settings.rate_limit_backend.startswith("redis://") or not (settings.ledger_url or "").startswith(
        ("postgresql://", "postgres://")
    ):
        raise SystemExit("set TOGETHER_RATE_LIMIT_BACKEND=redis://... and TOGETHER_LEDGER_URL=postgresql://...")
    if settings.run_id is None:
        os.environ["TOGETHER_RUN_ID"] = "fleet-example"  # children inherit it: one budget for all of them
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        sent = pool.starmap(worker, [(i, workers) for i in range(workers)])
    print(f"{sum(sent)} calls by {workers} processes: {sent}")
    with reports.open_ledger(run_id=os.environ["TOGETHER_RUN_ID"]) as ledger:  # no API key needed to read
        budget = ledger.summary()
        by_model = reports.totals(ledger.rows(run_id=budget.run_id), by="model")
    print(f"run {budget.run_id}: ${budget.committed} committed, ${budget.uncertain} uncertain, left {budget.remaining}")
    for total in by_model:
        print(f"  {total.key}: {total.ok} ok of {total.attempts} attempts")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
