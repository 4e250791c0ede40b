"""Fleet: 4 processes share one Redis rate limit and one PostgreSQL budget against one loopback fake server.

Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database ``test``). Each run uses its own
Redis key prefix and its own PostgreSQL schema and removes only those. Skips without the servers, fails
without them under CI.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from wrapper import BudgetExceededError, Client, Settings, TogetherError
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._store import open_store
from wrapper.testing import FakeTogetherServer

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROCESSES = 4
PER_PROCESS = 40
RPM = 600  # 10 per second for the whole fleet
BUDGET = Decimal("0.01")
LONG_PROMPT = " ".join(f"word{i}" for i in range(300))


def _need(kind: str, exc: Exception) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{kind} is required under CI: {exc}")
    pytest.skip(f"{kind} unreachable: {exc}")


@pytest.fixture
def services() -> Iterator[tuple[str, str]]:
    """A unique Redis key prefix and PostgreSQL schema for this run; both removed afterwards."""
    try:
        import redis

        r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        r.ping()
    except Exception as exc:
        _need("Redis", exc)
    try:
        import psycopg

        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=2)
    except Exception as exc:
        _need("PostgreSQL", exc)
    tag = uuid.uuid4().hex[:12]
    key, schema = f"wrapper-fleet-{tag}", f"wrapper_fleet_{tag}"
    try:
        yield key, schema
    finally:
        for name in r.scan_iter(match=f"{key}*"):
            r.delete(name)
        r.close()
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


def _worker(values: dict[str, Any], index: int, out: Any, start: Any) -> None:
    """One machine of the fleet: a sync client sending PER_PROCESS requests in a row, once every process is ready
    (spawned interpreters start seconds apart on a loaded machine; the first would otherwise spend the budget)."""
    results: list[tuple[str, str]] = []
    with Client(Settings(**values)) as client:
        start.wait(timeout=120)
        for i in range(PER_PROCESS):
            try:
                reply = client.chat.completions.create(
                    messages=[{"role": "user", "content": f"{index}-{i} {LONG_PROMPT}"}], max_tokens=200)
                results.append(("ok", reply.id))
            except BudgetExceededError:
                results.append(("budget", ""))
            except TogetherError as exc:
                results.append((type(exc).__name__, ""))
    out.put((index, results))


def test_fleet_shares_rate_limit_and_budget(services: tuple[str, str]) -> None:
    """4 processes on one Redis limit and one PostgreSQL budget: the server never sees more than the combined
    rate in any second, the combined spend stays within the budget, and every request is accounted for."""
    key, schema = services
    run_id = f"fleet-{uuid.uuid4().hex[:8]}"
    with FakeTogetherServer(seed=3) as server:
        values = {
            "api_key": "sk-fleet-test", "base_url": server.url, "rate_limit_rpm": RPM,
            "rate_limit_backend": REDIS_URL, "rate_limit_key": key, "ledger_url": f"{PG_URL}?schema={schema}",
            "run_id": run_id, "max_estimated_cost": str(BUDGET), "max_retries": 1, "retry_base": 0.05,
        }
        ctx = multiprocessing.get_context("spawn")
        out, start = ctx.Queue(), ctx.Barrier(PROCESSES)
        procs = [ctx.Process(target=_worker, args=(values, i, out, start)) for i in range(PROCESSES)]
        for p in procs:
            p.start()
        results = dict(out.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(timeout=30)
            assert 0 == p.exitcode
        per_second = server.max_in_window(1.0)
        served = server.stats.succeeded

    outcomes = [o for rows in results.values() for o in rows]
    assert PROCESSES * PER_PROCESS == len(outcomes)  # every request accounted for
    ok_ids = [rid for kind, rid in outcomes if kind == "ok"]
    assert len(ok_ids) == len(set(ok_ids)) and set(ok_ids) <= served
    assert any(kind == "budget" for kind, _ in outcomes)  # the shared budget stopped the fleet
    assert len({i for i, rows in results.items() if any(k == "ok" for k, _ in rows)}) > 1  # shared, not hogged
    # +1: a request admitted at the end of one second can arrive in the next (delivery, not admission)
    assert per_second <= RPM // 60 + 1, per_second
    ledger = Ledger(store=open_store(f"{PG_URL}?schema={schema}"), limit=BUDGET, run_id=run_id)
    try:
        status = ledger.summary()
        assert status.committed + status.uncertain + status.reserved <= BUDGET
        ok_rows = [r for r in ledger.rows(run_id=run_id) if r.outcome == "ok"]
        assert len(ok_ids) == len(ok_rows)  # each success charged exactly once
    finally:
        ledger.close()
