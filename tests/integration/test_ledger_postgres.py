"""The ledger on a real PostgreSQL: processes share one budget and never exceed it; rows survive a lost settle.

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database ``test``; ``TEST_POSTGRES_URL`` overrides); skipped when
it is unreachable unless CI is set (then it fails). Each test creates its own schema and drops only that one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from threading import Barrier

import pytest

from wrapper._errors import BudgetExceededError, ConfigError
from wrapper._ledger._estimator import Estimate
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import Price, PriceTable
from wrapper._ledger._store import open_store
from wrapper._observe._events import BudgetThreshold, Event

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MODEL = "acme/m"
PRICES = PriceTable().with_overrides({MODEL: Price(10, 10)})  # 1,000 tokens cost 0.01 USD
CALL = Estimate(model=MODEL, prompt_tokens=500, max_completion_tokens=500, cost=Decimal("0.01"))
PROCESSES = 4


@pytest.fixture
def schema() -> Iterator[str]:
    """A schema unique to this test; dropped (with only its own tables) afterwards."""
    try:
        import psycopg

        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=2)
    except Exception as exc:  # ImportError or OperationalError
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required under CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
    name = f"wrapper_ledger_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.close()


def _ledger(schema: str, limit: str | None = "1.00", run_id: str = "fleet",
            events: list[Event] | None = None) -> Ledger:
    """A ledger on the test schema (its own connection) with the test prices."""
    return Ledger(store=open_store(f"{PG_URL}?schema={schema}"), prices=PRICES,
                  limit=None if limit is None else Decimal(limit), run_id=run_id,
                  on_event=events.append if events is not None else None)


def _fleet_worker(schema: str, worker: int, start: Barrier) -> tuple[int, int]:
    """Once every process is ready, reserve in a loop until refused three times; settle as ok / error / uncertain.

    Returns (calls reserved, extra attempt rows written).
    """
    ledger = _ledger(schema)
    start.wait(timeout=60)  # spawned processes start at different times: make them really contend
    made = extra = refused = 0
    while refused < 3:
        try:
            r = ledger.reserve(CALL)
        except BudgetExceededError:
            refused += 1
            continue
        made += 1
        kind = (made + worker) % 4
        if kind == 0:
            ledger.record_attempt(r, request_id=None, latency_s=0.01, attempt=1, status=503, error_type="ServerError")
            extra += 1
            ledger.settle_ok(r, usage_prompt=300, usage_completion=300, request_id=f"w{worker}-{made}",
                             latency_s=0.01, attempt=2, status=200)
        elif kind == 1:
            ledger.settle_ok(r, usage_prompt=400, usage_completion=100, request_id=None, latency_s=0.01, attempt=1)
        elif kind == 2:
            ledger.settle_error(r, request_id=None, latency_s=0.01, attempt=1, status=400, error_type="bad")
        else:
            ledger.settle_uncertain(r, request_id=None, latency_s=0.01, attempt=1, reason="timeout")
    ledger.close()
    return made, extra


def test_four_processes_share_one_budget(schema: str) -> None:
    """4 processes reserving concurrently never take the shared run past its limit, and every call is accounted for."""
    _ledger(schema).close()  # schema and tables created once, as a fleet's first client would
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(PROCESSES) as pool:
        start = manager.Barrier(PROCESSES)
        results = pool.starmap(_fleet_worker, [(schema, w, start) for w in range(PROCESSES)])
    store = open_store(PG_URL, schema=schema)
    totals, rows = store.totals("fleet"), store.rows(run_id="fleet")
    store.close()
    calls = sum(made for made, _ in results)
    assert totals.spent <= Decimal("1.00")
    assert totals.spent > Decimal("0.99")  # refusals came from a full budget, not from contention
    assert Decimal(0) == totals.reserved
    assert calls + sum(extra for _, extra in results) == len(rows)
    finals = [r for r in rows if r.id == r.call_id]
    assert calls == len(finals) == len({r.call_id for r in rows})
    assert all(r.outcome != "reserved" for r in finals)
    assert totals.committed == sum((r.cost or Decimal(0) for r in rows if r.outcome == "ok"), Decimal(0))
    assert totals.uncertain == sum((r.cost or Decimal(0) for r in rows if r.outcome == "uncertain"), Decimal(0))
    assert sum(1 for made, _ in results if made) >= 2  # the budget really was shared
    leases = open_store(PG_URL, schema=schema).leases("fleet")
    assert len(leases) >= PROCESSES and {"closed"} == {x.state for x in leases}  # every rest went back
    assert all(x.held == 0 for x in leases)


V1_DDL = [  # schema version 1 on PostgreSQL, as released
    "CREATE TABLE {s}.ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE {s}.ledger_runs (run_id TEXT PRIMARY KEY, committed numeric NOT NULL DEFAULT 0, "
    "reserved numeric NOT NULL DEFAULT 0, uncertain numeric NOT NULL DEFAULT 0)",
    "CREATE TABLE {s}.ledger_attempts (id text PRIMARY KEY, time timestamptz NOT NULL, run_id text NOT NULL, "
    "call_id text NOT NULL, model text NOT NULL, outcome text NOT NULL, attempt integer NOT NULL, request_id text, "
    "prompt_tokens integer, completion_tokens integer, estimate numeric, cost numeric, latency_ms double precision, "
    "status integer, error_type text)",
    "INSERT INTO {s}.ledger_meta (key, value) VALUES ('schema_version', '1')",
    "INSERT INTO {s}.ledger_attempts VALUES ('a', now(), 'old', 'a', 'acme/m', 'ok', 1, 'r1', 300, 100, 0.01, "
    "0.004, 12.5, 200, NULL), ('b', now(), 'old', 'b', 'acme/m', 'reserved', 0, NULL, 500, 500, 0.01, NULL, NULL, "
    "NULL, NULL)",
    "INSERT INTO {s}.ledger_runs VALUES ('old', 0.004, 0.01, 0)",
]


def test_a_v1_schema_is_migrated_in_place(schema: str) -> None:
    """A schema-1 PostgreSQL schema is upgraded on open: history kept, the crashed call's reservation settled as
    an uncertain charge, and the fleet's budget goes on from the same totals."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        for statement in V1_DDL:
            admin.execute(statement.format(s=f'"{schema}"'))
    ledger = _ledger(schema, "0.05", run_id="old")
    t = ledger.totals()
    assert (Decimal("0.004"), Decimal(0), Decimal("0.01")) == (t.committed, t.reserved, t.uncertain)
    assert {"a": "ok", "b": "uncertain"} == {r.id: r.outcome for r in ledger.rows()}
    ledger.reserve(CALL)
    assert Decimal("0.026") == ledger.remaining()
    ledger.close()
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        found = admin.execute(f'SELECT value FROM "{schema}".ledger_meta').fetchone()
    assert ("2",) == found


def test_lost_settle_is_counted_by_the_next_machine(schema: str) -> None:
    """A call still in flight when its client closes keeps its hold in the client's lease, which another
    connection counts against the budget; once the lease expires it is settled as an uncertain charge."""
    gone = _ledger(schema, "0.05", run_id="nightly")
    gone.reserve(CALL)
    gone.close()  # the rest of the lease goes back; the call in flight keeps its 0.01
    other = _ledger(schema, "0.05", run_id="nightly")
    assert Decimal("0.04") == other.remaining()
    assert [] == other.rows(run_id="nightly")
    (lease,) = other.leases(run_id="nightly")
    assert ("open", Decimal("0.01")) == (lease.state, lease.held)
    assert lease.expires.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    later = Ledger(store=open_store(f"{PG_URL}?schema={schema}"), prices=PRICES, limit=Decimal("0.05"),
                   run_id="nightly", clock=lambda: time.time() + 3600)  # an hour on: the lease has expired
    (settled,) = later.reconcile()
    assert ("stale", Decimal("0.01")) == (settled.state, settled.stale_charge)
    assert (Decimal("0.01"), Decimal(0), Decimal("0.04")) == (later.totals().uncertain, later.totals().reserved,
                                                             later.remaining())
    (row,) = later.rows(run_id="nightly")
    assert ("uncertain", Decimal("0.01")) == (row.outcome, row.cost)
    later.close()
    other.close()


def test_exact_arithmetic_and_thresholds_on_numeric(schema: str) -> None:
    """On numeric columns 0.1 + 0.2 fills 0.3 exactly, the thresholds fire once each, and the next cent is refused."""
    events: list[Event] = []
    ledger = _ledger(schema, "0.3", run_id="exact", events=events)
    for cost in ("0.1", "0.2"):
        r = ledger.reserve(Estimate(model=MODEL, prompt_tokens=1, max_completion_tokens=1, cost=Decimal(cost)))
        ledger.settle_uncertain(r, request_id=None, latency_s=None, attempt=1, reason="timeout")
    assert (Decimal("0.3"), Decimal(0)) == (ledger.spent(), ledger.remaining())
    assert [e.percent for e in events if isinstance(e, BudgetThreshold)] == [50, 80, 100]
    with pytest.raises(BudgetExceededError):
        ledger.reserve(CALL)
    ledger.close()


def test_a_dropped_connection_is_replaced(schema: str) -> None:
    """After the server kills the ledger's sessions, one reserve fails cleanly (ConfigError) and the next works."""
    import psycopg

    ledger = Ledger(store=open_store(f"{PG_URL}?schema={schema}&application_name={schema}"), prices=PRICES,
                    limit=Decimal("0.02"), run_id="restart")  # a lease of 0.0104: the second call needs another
    ledger.reserve(CALL)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        pids = [p for (p,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                            (schema,)).fetchall()]
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        for _ in range(10_000):  # termination is asynchronous: wait (bounded) until the sessions are gone
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone():
                break
    assert pids
    with pytest.raises(ConfigError, match="TOGETHER_LEDGER_URL"):
        ledger.reserve(CALL)
    ledger.reserve(CALL)
    assert ledger.totals().reserved == Decimal("0.02")
    ledger.close()

