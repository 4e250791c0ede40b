"""The ledger under SIGKILL, a slow database, and real time: leases, the writer thread, stale-lease settlement.

SQLite cases need nothing; PostgreSQL cases need the server on 127.0.0.1:5432 (``TEST_POSTGRES_URL``), are
skipped without it unless CI is set (then they fail), and each uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wrapper._ledger._estimator import Estimate
from wrapper._ledger._lease import STALE_MODEL, LeasePolicy
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import Price, PriceTable
from wrapper._ledger._store import open_store
from wrapper.cli import app

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MODEL = "acme/m"
PRICES = PriceTable().with_overrides({MODEL: Price(10, 10)})  # 1,000 tokens cost 0.01 USD
CALL = Estimate(model=MODEL, prompt_tokens=500, max_completion_tokens=500, cost=Decimal("0.01"))
LIMIT = Decimal("10")
TTL_S = 1.0

CHILD = textwrap.dedent("""
    import sys, time
    from decimal import Decimal
    from wrapper._ledger._estimator import Estimate
    from wrapper._ledger._lease import LeasePolicy
    from wrapper._ledger._ledger import Ledger
    from wrapper._ledger._pricing import Price, PriceTable
    from wrapper._ledger._store import open_store

    url, limit, ttl = sys.argv[1], Decimal(sys.argv[2]), float(sys.argv[3])
    call = Estimate(model="acme/m", prompt_tokens=500, max_completion_tokens=500, cost=Decimal("0.01"))
    ledger = Ledger(store=open_store(url), prices=PriceTable().with_overrides({"acme/m": Price(10, 10)}),
                    limit=limit, run_id="crash", lease_policy=LeasePolicy(ttl_s=ttl, heartbeat_s=ttl / 5))
    for i in range(20):  # settled calls: each commits 0.004 of its 0.01 hold
        r = ledger.reserve(call)
        ledger.settle_ok(r, usage_prompt=300, usage_completion=100, request_id=f"c{i}", latency_s=0.01, attempt=1)
    ledger.flush()
    for i in range(5):  # calls in flight when the process dies, and two settles the writer may not have flushed
        ledger.reserve(call)
    r = ledger.reserve(call)
    ledger.settle_ok(r, usage_prompt=300, usage_completion=100, request_id="late", latency_s=0.01, attempt=1)
    print("ready", flush=True)
    time.sleep(120)
""")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A ledger URL of its own: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/crash.db"
        return
    try:
        import psycopg

        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=2)
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required under CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
    schema = f"wrapper_ledger_crash_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


def _kill_a_client_holding_a_lease(url: str) -> None:
    """Start a client in a subprocess, let it take a lease and run calls, then SIGKILL it."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(LIMIT), str(TTL_S)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and "ready" == child.stdout.readline().strip()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert -signal.SIGKILL == child.returncode


@pytest.mark.parametrize("settle_by", ["expiry", "command"])
def test_a_sigkilled_client_ties_up_one_lease_until_it_is_settled(url: str, settle_by: str,
                                                                  tmp_path: Path) -> None:
    """A SIGKILLed client leaves exactly one open lease; everything it took beyond its flushed charges is that
    lease's held amount (counted as used, so nobody can overspend it). After the lease expires it is settled as
    an uncertain charge -- by the next client's lease, or by ``together-wrapper costs --reconcile`` -- and the
    run's books balance: nothing is lost, nothing is freed."""
    _kill_a_client_holding_a_lease(url)
    store = open_store(url)
    (lease,) = store.leases("crash")
    totals = store.totals("crash")
    assert "open" == lease.state
    assert lease.held == totals.reserved  # the only money tied up is the dead client's lease
    assert Decimal(0) < lease.held <= lease.granted <= LIMIT * Decimal("0.02") + Decimal("0.01")  # one lease
    flushed = store.rows(run_id="crash")
    assert 20 <= len(flushed) <= 21  # the last settle may or may not have reached the store
    assert totals.committed == sum((r.cost or Decimal(0) for r in flushed), Decimal(0))
    store.close()
    if settle_by == "expiry":
        later = Ledger(store=open_store(url), prices=PRICES, limit=LIMIT, run_id="crash",
                       clock=lambda: time.time() + 3600, flush_interval_s=None)  # an hour later: long expired
        later.settle_error(later.reserve(CALL), request_id=None, latency_s=0.01, attempt=1, status=400,
                           error_type="bad")  # its lease transaction settled the dead one on the way
        later.close()
    else:
        time.sleep(TTL_S * 1.5)  # the dead client's heartbeat is now older than its lease's TTL
        result = CliRunner().invoke(app, ["costs", "--reconcile", "--run", "crash"],
                                    env={"TOGETHER_LEDGER_URL": url, "COLUMNS": "200"})
        assert 0 == result.exit_code, result.output
        assert "settled 1 stale lease" in result.output
        assert "budget leases" in result.output and "from 1 stale lease(s) of dead clients" in result.output
        exported = CliRunner().invoke(app, ["costs", "--json", "--leases", "--run", "crash"],
                                      env={"TOGETHER_LEDGER_URL": url})
        assert [("stale", str(lease.held))] == [(x["state"], x["stale_charge"]) for x in json.loads(exported.stdout)]
    store = open_store(url)
    settled = next(x for x in store.leases("crash") if x.id == lease.id)
    after = store.totals("crash")
    stale_rows = [r for r in store.rows(run_id="crash") if r.model == STALE_MODEL]
    store.close()
    assert ("stale", Decimal(0), lease.held) == (settled.state, settled.held, settled.stale_charge)
    assert [lease.held] == [r.cost for r in stale_rows]
    assert totals.used == after.used  # settled, not freed: the lease's money is now an uncertain charge
    assert totals.uncertain + lease.held == after.uncertain
    assert Decimal(0) == after.reserved


def test_the_writer_flushes_within_its_interval_and_at_close(tmp_path: Path) -> None:
    """Rows reach the store from the writer thread about every 100 ms, seen by another connection without any
    flush from the caller; and a writer that would wait an hour still writes everything at close()."""
    url = f"sqlite://{tmp_path}/w.db"
    ledger = Ledger(store=open_store(url), prices=PRICES, limit=LIMIT, run_id="w")
    assert 0.1 == ledger._budget.writer.interval_s
    reader = open_store(url)
    ledger.settle_ok(ledger.reserve(CALL), usage_prompt=300, usage_completion=100, request_id="a", latency_s=0.01,
                     attempt=1)
    start = time.monotonic()
    while not reader.rows(run_id="w") and time.monotonic() - start < 10:
        time.sleep(0.005)
    seen_after = time.monotonic() - start
    assert 1 == len(reader.rows(run_id="w"))
    assert seen_after < 1.0, seen_after  # 0.1 s period; generous for a loaded machine
    ledger.close()
    slow = Ledger(store=open_store(url), prices=PRICES, limit=LIMIT, run_id="slow", flush_interval_s=3600)
    for i in range(50):
        slow.settle_error(slow.reserve(CALL), request_id=f"e{i}", latency_s=0.01, attempt=1, status=400,
                          error_type="bad")
    assert [] == reader.rows(run_id="slow")
    slow.close()
    assert 50 == len(reader.rows(run_id="slow"))
    assert ["closed"] == [x.state for x in reader.leases("slow")]
    reader.close()


@pytest.mark.parametrize("url", ["postgres"], indirect=True)
def test_the_event_loop_stays_responsive_while_the_database_is_locked(url: str) -> None:
    """With the run's budget row locked by another connection for a second, calls keep reserving from the lease
    and settling on the event loop, and a lease transaction waits in a worker thread: the loop never stalls."""
    import psycopg

    schema = url.split("schema=")[1]
    ledger = Ledger(store=open_store(url), prices=PRICES, limit=LIMIT, run_id="slow",
                    lease_policy=LeasePolicy(calls=4))  # a small lease (0.05): the test soon needs another
    ledger.reserve(CALL)
    locker = psycopg.connect(PG_URL)
    locker.execute(f'SELECT * FROM "{schema}".ledger_runs WHERE run_id = %s FOR UPDATE', ("slow",))

    async def scenario() -> tuple[float, int, float]:
        loop = asyncio.get_running_loop()
        gaps: list[float] = []

        async def ticker() -> None:
            last = loop.time()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(loop.time() - last)
                last = loop.time()

        tick = asyncio.create_task(ticker())
        in_memory = 0
        start = loop.time()
        waiting = None
        while loop.time() - start < 1.0:
            r = ledger.try_reserve(CALL)
            if r is None and waiting is None:  # the lease ran out: take the next one off the loop
                waiting = asyncio.ensure_future(asyncio.to_thread(ledger.reserve, CALL))
            elif r is not None:
                in_memory += 1
                ledger.settle_ok(r, usage_prompt=300, usage_completion=100, request_id=None, latency_s=0.01,
                                 attempt=1)
            await asyncio.sleep(0.005)
        assert waiting is not None and not waiting.done()  # blocked on the lock all along
        locker.rollback()  # the slow transaction ends
        r = await asyncio.wait_for(waiting, timeout=30)
        assert r.lease is not None
        tick.cancel()
        return max(gaps), in_memory, loop.time() - start

    try:
        worst_gap, in_memory, _ = asyncio.run(scenario())
    finally:
        locker.close()
        ledger.close()
    assert in_memory > 0
    assert worst_gap < 0.25, worst_gap  # ticks every 10 ms; a blocked loop would show a ~1 s gap
