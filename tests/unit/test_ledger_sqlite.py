"""The ledger under concurrency and crashes: threads, processes sharing a SQLite file, lost settles, no secrets."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from wrapper._errors import BudgetExceededError, ConfigError
from wrapper._ledger._estimator import Estimate
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import Price, PriceTable
from wrapper._ledger._store import MemoryStore, Store, open_store
from wrapper._settings import Settings

MODEL = "acme/m"
PRICES = PriceTable().with_overrides({MODEL: Price(10, 10)})  # 1,000 tokens cost 0.01 USD
CALL = Estimate(model=MODEL, prompt_tokens=500, max_completion_tokens=500, cost=Decimal("0.01"))
SECRET_KEY = "sk-test-SECRET-4f2a9c1b7d3e"
SECRET_TEXT = "the purple walrus recites Goethe at midnight"


def ledger_on(store: Store, limit: str, run_id: str = "shared") -> Ledger:
    """A ledger on ``store`` with the test prices and a fixed clock."""
    return Ledger(store=store, prices=PRICES, limit=Decimal(limit), run_id=run_id, clock=lambda: 1_700_000_000.0)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_fifty_threads_against_a_budget_for_ten(kind: str, tmp_path: Path) -> None:
    """50 threads reserving at once against a budget that fits 10: exactly 10 succeed, 40 are refused, none over."""
    store = MemoryStore() if kind == "memory" else open_store(f"sqlite://{tmp_path}/l.db")
    ledger = ledger_on(store, "0.10")
    start = threading.Barrier(50)
    results: list[str] = []

    def worker() -> None:
        start.wait()
        try:
            ledger.reserve(CALL)
            results.append("ok")
        except BudgetExceededError:
            results.append("refused")

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (results.count("ok"), results.count("refused")) == (10, 40)
    assert Decimal("0.10") == ledger.totals().used
    assert [] == ledger.rows()  # calls in flight are held by the lease, not by history rows
    (lease,) = ledger.leases()
    assert ("open", Decimal("0.10")) == (lease.state, lease.held)
    ledger.close()


def _process_worker(path: str, limit: str, start: threading.Barrier) -> int:
    """Once both processes are ready, reserve and settle until the shared budget refuses three times."""
    ledger = ledger_on(open_store(f"sqlite://{path}"), limit)
    start.wait(timeout=60)  # spawned processes start at different times: make them really contend
    made = refused = 0
    while refused < 3:
        try:
            r = ledger.reserve(CALL)
        except BudgetExceededError:
            refused += 1
            continue
        made += 1
        if made % 3:
            ledger.settle_ok(r, usage_prompt=300, usage_completion=300, request_id=None, latency_s=0.01,
                             attempt=1, status=200)  # 0.006 of the 0.01 held
        else:
            ledger.settle_uncertain(r, request_id=None, latency_s=0.01, attempt=1, reason="timeout")
    ledger.close()
    return made


def test_two_processes_share_one_sqlite_budget(tmp_path: Path) -> None:
    """Two spawned processes on one SQLite file never spend past the shared limit, and every call is accounted for."""
    path = str(tmp_path / "shared.db")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        start = manager.Barrier(2)
        made = pool.starmap(_process_worker, [(path, "0.50", start), (path, "0.50", start)])
    store = open_store(f"sqlite://{path}")
    totals = store.totals("shared")
    rows = store.rows(run_id="shared")
    assert totals.spent <= Decimal("0.50")
    assert Decimal(0) == totals.reserved
    assert sum(made) == len(rows) and all(r.outcome in ("ok", "uncertain") for r in rows)
    assert totals.spent == sum((r.cost or Decimal(0) for r in rows), Decimal(0))
    assert totals.spent > Decimal("0.49")  # the budget was really used up, not refused early
    store.close()


def test_crash_between_reserve_and_settle_leaves_a_record(tmp_path: Path) -> None:
    """A ledger dropped without settling leaves its open lease, which a new ledger on the file counts as used."""
    url = f"sqlite://{tmp_path}/crash.db"
    crashed = ledger_on(open_store(url), "0.05", run_id="nightly")
    crashed.reserve(CALL)
    (lease,) = crashed.leases(run_id="nightly")  # 0.01 + min(2% of 0.05, 1/8 of the 0.04 left) = 0.011
    assert ("open", Decimal("0.011")) == (lease.state, lease.held)
    survivor = ledger_on(open_store(url), "0.05", run_id="nightly")
    assert Decimal("0.039") == survivor.remaining()
    assert [] == survivor.rows(run_id="nightly")
    for _ in range(3):
        survivor.reserve(CALL)
    with pytest.raises(BudgetExceededError):
        survivor.reserve(CALL)
    crashed.close()


def test_no_api_key_or_message_text_reaches_the_file(tmp_path: Path) -> None:
    """After a full call cycle with a planted key and message, neither string is anywhere in the SQLite files."""
    settings = Settings(api_key=SECRET_KEY, ledger_url=f"sqlite://{tmp_path}/l.db", max_estimated_cost=Decimal(5))
    ledger = Ledger.from_settings(settings, run_id="secret-run")
    messages: list[dict[str, object]] = [{"role": "user", "content": SECRET_TEXT},
                                         {"role": "user", "content": [{"type": "text", "text": SECRET_TEXT}]}]
    estimate = ledger.estimate("Qwen/Qwen2.5-7B-Instruct-Turbo", messages, 50)
    for outcome in ("ok", "error", "uncertain"):
        r = ledger.reserve(estimate)
        ledger.record_attempt(r, request_id="req", latency_s=0.1, attempt=1, status=500, error_type="ServerError")
        if outcome == "ok":
            ledger.settle_ok(r, usage_prompt=20, usage_completion=5, request_id="req", latency_s=0.1, attempt=2)
        elif outcome == "error":
            ledger.settle_error(r, request_id="req", latency_s=0.1, attempt=2, status=400, error_type="bad")
        else:
            ledger.settle_uncertain(r, request_id="req", latency_s=0.1, attempt=2, reason="timeout")
    ledger.reserve(estimate)  # left open, as after a crash
    assert len(ledger.rows()) == 6  # reads flush the writer first
    files = list(tmp_path.iterdir())
    blob = b"".join(p.read_bytes() for p in files)
    assert blob
    for needle in (SECRET_KEY, SECRET_TEXT, "purple walrus"):
        for encoded in (needle.encode(), needle.encode("utf-16-le")):
            assert encoded not in blob
    ledger.close()


def test_sqlite_uses_wal_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    """The file is in WAL mode; a ledger written by a newer schema version is refused with ConfigError."""
    path = tmp_path / "l.db"
    open_store(f"sqlite://{path}").close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ConfigError, match="schema version '99'"):
        open_store(f"sqlite://{path}")


def test_rows_filter_by_run_and_time(tmp_path: Path) -> None:
    """rows() returns one run's rows, or rows in a time window, ordered by time; times come back UTC."""
    store = open_store(f"sqlite://{tmp_path}/l.db")
    times = iter([1_700_000_000.0, 1_700_086_400.0])
    for run in ("a", "b"):
        t = next(times)
        ledger = Ledger(store=store, prices=PRICES, run_id=run, clock=lambda t=t: t,  # type: ignore[misc]
                        flush_interval_s=None)
        ledger.settle_error(ledger.reserve(CALL), request_id=None, latency_s=None, attempt=1, status=None,
                            error_type="x")
        ledger.flush()
    assert [r.run_id for r in store.rows(run_id="a")] == ["a"]
    later = store.rows(since=store.rows(run_id="b")[0].time)
    assert [r.run_id for r in later] == ["b"]
    assert later[0].time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    store.close()


V1_DDL = [  # schema version 1, as released: no leases, a 'reserved' row per call in flight
    "CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE ledger_runs (run_id TEXT PRIMARY KEY, committed TEXT NOT NULL DEFAULT '0', "
    "reserved TEXT NOT NULL DEFAULT '0', uncertain TEXT NOT NULL DEFAULT '0')",
    "CREATE TABLE ledger_attempts (id TEXT PRIMARY KEY, time TEXT NOT NULL, run_id TEXT NOT NULL, "
    "call_id TEXT NOT NULL, model TEXT NOT NULL, outcome TEXT NOT NULL, attempt INTEGER NOT NULL, request_id TEXT, "
    "prompt_tokens INTEGER, completion_tokens INTEGER, estimate TEXT, cost TEXT, latency_ms REAL, status INTEGER, "
    "error_type TEXT)",
    "CREATE INDEX ledger_attempts_run_time ON ledger_attempts (run_id, time)",
    "CREATE INDEX ledger_attempts_time ON ledger_attempts (time)",
    "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', '1')",
]


def test_a_v1_file_is_migrated_in_place(tmp_path: Path) -> None:
    """Opening a schema-1 file upgrades it to 2: history kept, a crashed call's 'reserved' row settled as an
    uncertain charge, the run's reserved money moved to uncertain, and leases work on it."""
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        for statement in V1_DDL:
            conn.execute(statement)
        t = "2026-11-01T10:00:00.000000+00:00"
        conn.execute("INSERT INTO ledger_attempts VALUES ('a', ?, 'old', 'a', 'acme/m', 'ok', 1, 'r1', 300, 100, "
                     "'0.01', '0.004', 12.5, 200, NULL)", (t,))
        conn.execute("INSERT INTO ledger_attempts VALUES ('b', ?, 'old', 'b', 'acme/m', 'reserved', 0, NULL, 500, "
                     "500, '0.01', NULL, NULL, NULL, NULL)", (t,))
        conn.execute("INSERT INTO ledger_runs VALUES ('old', '0.004', '0.01', '0')")
    ledger = Ledger(store=open_store(f"sqlite://{path}"), prices=PRICES, limit=Decimal("0.05"), run_id="old",
                    flush_interval_s=None)
    with sqlite3.connect(path) as conn:
        assert "2" == conn.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()[0]
    assert (Decimal("0.004"), Decimal(0), Decimal("0.01")) == (ledger.totals().committed, ledger.totals().reserved,
                                                               ledger.totals().uncertain)
    rows = {r.id: r for r in ledger.rows()}
    assert ("ok", Decimal("0.004")) == (rows["a"].outcome, rows["a"].cost)
    assert ("uncertain", Decimal("0.01")) == (rows["b"].outcome, rows["b"].cost)
    ledger.reserve(CALL)
    assert Decimal("0.026") == ledger.remaining()
    ledger.close()
    open_store(f"sqlite://{path}").close()  # opening a version-2 file again changes nothing
