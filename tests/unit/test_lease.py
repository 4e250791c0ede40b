"""Unit tests of budget leases and the write-behind ledger: sizing, no I/O per call, stale leases, admission.

Every ledger here runs without a writer thread (``flush_interval_s=None``: reads, ``flush()`` and ``close()``
write) and on an injected clock, so nothing sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from wrapper._errors import BudgetExceededError
from wrapper._ledger._estimator import Estimate
from wrapper._ledger._lease import STALE_MODEL, LeasePolicy, LeaseRequest, grant
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import Price, PriceTable
from wrapper._ledger._records import Entry, Heartbeat, LeaseAnswer, WriteAnswer
from wrapper._ledger._store import MemoryStore, Store, open_store
from wrapper._observe._events import Event, UncertainCharge

MODEL = "acme/m"
PRICES = PriceTable().with_overrides({MODEL: Price(10, 10)})  # 1,000 tokens cost 0.01 USD
T0 = 1_700_000_000.0


def est(cost: str | Decimal) -> Estimate:
    """An estimate whose worst case costs ``cost``."""
    return Estimate(model=MODEL, prompt_tokens=500, max_completion_tokens=500, cost=Decimal(cost))


class Clock:
    """A settable wall clock."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    """A memory store that counts lease transactions and flushes, and can refuse to do any I/O."""

    def __init__(self) -> None:
        super().__init__()
        self.takes = self.writes = 0
        self.forbidden = False

    def take_lease(self, req: LeaseRequest) -> LeaseAnswer:
        assert not self.forbidden, "a lease transaction happened where none may"
        self.takes += 1
        return super().take_lease(req)

    def write(self, entries: Sequence[Entry], heartbeat: Heartbeat | None) -> WriteAnswer:
        assert not self.forbidden, "a write happened where none may"
        self.writes += 1
        return super().write(entries, heartbeat)


def ledger(store: Store, limit: str | None = "1", clock: Clock | None = None, **kw: Any) -> Ledger:
    """A ledger without a writer thread, on ``store`` and an injected clock."""
    return Ledger(store=store, prices=PRICES, limit=None if limit is None else Decimal(limit), run_id="run",
                  clock=clock or Clock(), flush_interval_s=None, **kw)


def ok(led: Ledger, r: Any, prompt: int = 300, completion: int = 100) -> None:
    """Settle as a success (300 + 100 tokens: 0.004 USD)."""
    led.settle_ok(r, usage_prompt=prompt, usage_completion=completion, request_id="req", latency_s=0.1, attempt=1)


@pytest.mark.parametrize(("used", "need", "limit", "extra", "expected"), [
    ("0", "0.01", "1", "0.02", "0.03"),          # far from the end: need + the capped extra
    ("0.90", "0.01", "1", "0.02", "0.02125"),    # near the end: 1/8 of the 0.09 left after the call
    ("0.99", "0.01", "1", "0.02", "0.01"),       # the last call: exactly what it needs
    ("0.995", "0.01", "1", "0.02", None),        # does not fit: refused
])
def test_grant_shrinks_to_one_call_near_the_end(used: str, need: str, limit: str, extra: str,
                                                expected: str | None) -> None:
    """A lease is need + min(extra, 1/8 of what is left after the call): it becomes one call's need at the end."""
    got = grant(Decimal(used), Decimal(need), Decimal(limit), Decimal(extra), Decimal("0.125"))
    assert (None if expected is None else Decimal(expected)) == got


def test_calls_reserve_from_the_lease_without_io() -> None:
    """After one lease transaction, calls reserve and settle in memory: no store I/O until the lease runs out."""
    store = CountingStore()
    led = ledger(store, "100")
    first = led.reserve(est("0.01"))  # lease: 0.01 + min(64 x 0.01, 2% of 100) = 0.65
    store.forbidden = True
    ok(led, first)
    for _ in range(200):  # each commits 0.004 of its 0.01 hold: 0.65 of lease lasts 160 calls
        r = led.try_reserve(est("0.01"))
        if r is None:
            break
        ok(led, r)
    else:
        pytest.fail("the lease never ran out")
    store.forbidden = False
    assert 1 == store.takes and 0 == store.writes
    assert led.reserve(est("0.01")) is not None and 2 == store.takes


def test_no_budget_takes_no_lease() -> None:
    """Without a budget there is no lease arithmetic: reserve never touches the store, rows are only queued."""
    store = CountingStore()
    led = ledger(store, None)
    store.forbidden = True
    for _ in range(5):
        ok(led, led.reserve(est("0.01")))
    assert led.try_reserve(est("0.01")) is not None
    store.forbidden = False
    assert ([], 0) == (led.leases(), store.takes)
    assert 5 == len(led.rows()) and Decimal("0.02") == led.totals().committed


def test_try_reserve_says_when_a_lease_is_needed() -> None:
    """try_reserve returns None (rather than doing I/O) when the lease lacks room; reserve then takes one."""
    store = CountingStore()
    led = ledger(store, "1")
    store.forbidden = True
    assert led.try_reserve(est("0.01")) is None
    store.forbidden = False
    assert led.reserve(est("0.01")).lease is not None


def test_close_returns_the_unused_rest() -> None:
    """close() flushes the rows and gives the lease's unused rest back: the run holds nothing afterwards."""
    store = MemoryStore()
    led = ledger(store, "1")
    ok(led, led.reserve(est("0.1")))
    led._budget.close()  # the store stays open to look at it
    (lease,) = store.leases("run")
    t = store.totals("run")
    assert ("closed", Decimal(0), Decimal("0.004"), Decimal(0)) == (lease.state, lease.held, t.committed, t.reserved)
    assert lease.granted - Decimal("0.004") == lease.returned
    assert 1 == len(store.rows())


def test_a_killed_client_ties_up_its_lease_until_it_expires(tmp_path: Path) -> None:
    """A client that never closes keeps its lease counted as used; after the lease expires, the next client's
    lease transaction settles it as an uncertain (stale lease) charge, with an event: never lost, never freed."""
    url = f"sqlite://{tmp_path}/l.db"
    clock = Clock()
    dead = ledger(open_store(url), "1", clock)
    ok(dead, dead.reserve(est("0.1")))
    dead.reserve(est("0.1"))  # in flight when the process dies
    dead.flush()  # the settle reached the store; the process now dies without closing
    (lease,) = dead.leases()
    held = lease.held  # 0.12 granted - 0.004 committed
    events: list[Event] = []
    other = ledger(open_store(url), "1", Clock(T0 + 30), on_event=events.append)
    assert Decimal(1) - Decimal("0.004") - held == other.remaining()
    other.reserve(est("0.1"))  # within the TTL: the dead lease is left alone
    assert "open" == other.leases()[0].state
    later = ledger(open_store(url), "1", Clock(T0 + 61), on_event=events.append)
    later.reserve(est("0.1"))
    stale = next(x for x in later.leases() if x.id == lease.id)
    assert ("stale", held, Decimal(0)) == (stale.state, stale.stale_charge, stale.held)
    assert held + Decimal("0.004") == later.totals().spent
    row = next(r for r in later.rows() if r.model == STALE_MODEL)
    assert ("uncertain", held, lease.id) == (row.outcome, row.cost, row.call_id)
    assert [held] == [e.amount for e in events if isinstance(e, UncertainCharge)]
    summary = later.summary()
    assert (1, held) == (summary.stale_leases, summary.stale)


def test_heartbeats_keep_a_live_lease_open() -> None:
    """The writer's heartbeat pushes the lease's expiry forward, so a live client's lease is never settled."""
    store = MemoryStore()
    clock = Clock()
    live = ledger(store, "1", clock, lease_policy=LeasePolicy(ttl_s=60, heartbeat_s=10))
    live.reserve(est("0.1"))
    clock.now = T0 + 50
    live.flush()  # a heartbeat is due: expires = T0 + 110
    other = ledger(store, "1", Clock(T0 + 100))
    other.reserve(est("0.1"))
    assert ["open", "open"] == [x.state for x in store.leases("run")]


def test_a_slow_client_that_lost_its_lease_takes_a_new_one() -> None:
    """A client whose lease was settled as stale while it was alive learns it at its next flush: the charges it
    then writes add to the run (conservative), and its next call takes a new lease."""
    store = MemoryStore()
    clock = Clock()
    slow = ledger(store, "1", clock)
    r = slow.reserve(est("0.1"))
    ledger(store, "1", Clock(T0 + 120)).reserve(est("0.1"))  # settles slow's expired lease
    ok(slow, r)
    clock.now = T0 + 121
    slow.flush()
    first = r.lease
    assert first is not None and first.lost
    assert slow.reserve(est("0.1")).lease is not first
    stale_charge = store.leases("run")[0].stale_charge
    assert Decimal("0.004") + stale_charge == store.totals("run").spent


def test_reconcile_settles_expired_leases_on_demand(tmp_path: Path) -> None:
    """Ledger.reconcile() (what ``costs --reconcile`` runs) settles every expired lease, of every run."""
    url = f"sqlite://{tmp_path}/l.db"
    for run in ("a", "b"):
        Ledger(store=open_store(url), prices=PRICES, limit=Decimal(1), run_id=run, clock=Clock(),
               flush_interval_s=None).reserve(est("0.1"))
    reader = Ledger(store=open_store(url), clock=Clock(T0 + 3600), flush_interval_s=None)
    assert ["a", "b"] == sorted(x.run_id for x in reader.reconcile())
    assert {"stale"} == {x.state for x in reader.leases()}
    assert [] == reader.reconcile()


def test_overrun_and_uncertain_attempts_stay_counted() -> None:
    """Charges beyond the lease (an uncertain attempt, then the call's own charge) raise the run's used figure
    at the flush, and the next lease covers the debt first."""
    store = MemoryStore()
    led = ledger(store, "1")
    r = led.reserve(est("0.4"))  # lease 0.42
    assert led.charge_uncertain_attempt(r, request_id=None, latency_s=None, attempt=1, reason="timeout")
    led.settle_uncertain(r, request_id=None, latency_s=None, attempt=2, reason="timeout")  # 0.8 charged
    assert Decimal("0.8") == led.totals().used
    assert Decimal("0.2") == led.remaining()
    led.reserve(est("0.2"))
    with pytest.raises(BudgetExceededError):
        led.reserve(est("0.000001"))


def _fleet(limit: Decimal, costs: list[Decimal], clients: int, in_flight: int, seed: int) -> Decimal:
    """Clients take calls from one queue round-robin, each keeping up to ``in_flight`` calls open (settled
    oldest first, at exactly their bound: digit-heavy prompts, where bytes ~ tokens); returns the admitted cost."""
    store = MemoryStore()
    ledgers = [ledger(store, str(limit)) for _ in range(clients)]
    open_calls: list[list[Any]] = [[] for _ in ledgers]
    rng = random.Random(seed)
    admitted = Decimal(0)
    for cost in costs:
        i = rng.randrange(clients)
        led = ledgers[i]
        if len(open_calls[i]) >= in_flight:
            r = open_calls[i].pop(0)
            led.settle_ok(r, usage_prompt=r.estimate.prompt_tokens, usage_completion=r.estimate.max_completion_tokens,
                          request_id=None, latency_s=None, attempt=1)
        try:
            open_calls[i].append(led.reserve(Estimate(model=MODEL, prompt_tokens=int(cost * 50_000),
                                                      max_completion_tokens=int(cost * 50_000), cost=cost)))
            admitted += cost
        except BudgetExceededError:
            pass
    for led in ledgers:
        led.flush()
    assert store.totals("run").used <= limit
    return admitted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_four_clients_near_a_tight_budget_admit_what_an_oracle_would(seed: int) -> None:
    """4 clients sharing a budget of ~60 calls, 8 in flight each: admission stays within 80% of a perfect oracle
    (which admits calls in order while their exact costs fit), and the run never passes its limit."""
    rng = random.Random(seed)
    costs = [Decimal(rng.randrange(80, 120)) / 10_000 for _ in range(400)]  # ~0.01 USD each
    limit = Decimal("0.6")
    oracle, total = Decimal(0), Decimal(0)
    for cost in costs:
        if total + cost <= limit:
            total += cost
            oracle += cost
    admitted = _fleet(limit, costs, clients=4, in_flight=8, seed=seed)
    assert admitted >= oracle * Decimal("0.8"), (admitted, oracle)


def test_reports_show_leases_and_stale_charges(tmp_path: Path) -> None:
    """Totals count a settled stale lease as an uncertain charge (not an attempt), lease_totals counts leases by
    state (an expired one apart), summary() says what this client has leased, and CSV/JSON export the leases."""
    from wrapper._observe._reports import grand_total, lease_totals, to_csv, to_json

    url = f"sqlite://{tmp_path}/l.db"
    dead = ledger(open_store(url), "1")
    dead.reserve(est("0.1"))
    dead.flush()
    live = ledger(open_store(url), "1", Clock(T0 + 30))
    ok(live, live.reserve(est("0.1")))
    status = live.summary()
    dead_lease = Decimal("0.12")  # another client's lease counts in full; this client's unused rest does not
    assert (2, 0, dead_lease) == (status.open_leases, status.stale_leases, status.reserved)
    assert status.leased > 0 and status.remaining == Decimal(1) - Decimal("0.004") - dead_lease
    leases = live.leases()
    by_run = lease_totals(leases, datetime.fromtimestamp(T0 + 70, UTC))  # dead expired at T0+60, live at T0+90
    assert [(1, 1, 0, 0)] == [(t.open, t.expired, t.closed, t.stale) for t in by_run]
    later = ledger(open_store(url), "1", Clock(T0 + 75))
    (settled,) = later.reconcile()
    total = grand_total(later.rows())
    assert (1, 1, settled.stale_charge) == (total.attempts, total.stale_leases, total.stale_cost)
    assert settled.stale_charge + Decimal("0.004") == total.spent
    assert to_csv(later.leases()).startswith("id,run_id,owner,state,granted,held,returned,stale_charge")
    assert '"state": "stale"' in to_json(later.leases())


def test_the_writer_keeps_a_failed_batch_and_writes_it_in_order_later() -> None:
    """A write that fails (database down) keeps the batch at the front of the queue; the next flush writes it
    before anything queued since, in order, and reports success again."""
    from wrapper._ledger._writer import Writer

    written: list[list[Entry]] = []
    failing = [True]

    def write(entries: list[Entry], heartbeat: Heartbeat | None) -> WriteAnswer:
        if failing[0]:
            raise OSError("database is down")
        written.append(list(entries))
        return WriteAnswer()

    writer = Writer(write, heartbeat=lambda: None, on_answer=lambda _: None, interval_s=None)

    def entry(n: int) -> Entry:
        return Entry((f"id{n}",), None, Decimal(0), Decimal(0))

    writer.put(entry(1))
    writer.put(entry(2))
    assert not writer.flush() and 2 == writer.pending
    writer.put(entry(3))
    failing[0] = False
    assert writer.flush() and writer.close()
    assert [["id1", "id2", "id3"]] == [[e.values[0] for e in batch] for batch in written]
