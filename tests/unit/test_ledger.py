"""Unit tests of the ledger: exact Decimal budget arithmetic, settling, events, unknown prices; memory and SQLite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from wrapper._errors import BudgetExceededError, ConfigError
from wrapper._ledger._estimator import Estimate
from wrapper._ledger._lease import LeaseRequest
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import Price, PriceTable
from wrapper._ledger._records import Entry, Heartbeat, LeaseAnswer, WriteAnswer
from wrapper._ledger._settle import Reservation
from wrapper._ledger._store import MemoryStore, RunTotals, Store, open_store
from wrapper._observe._events import BudgetThreshold, Event, UncertainCharge
from wrapper._settings import Settings

MODEL = "acme/m"
PRICES = PriceTable().with_overrides({MODEL: Price(10, 10)})  # 1,000 tokens cost 0.01 USD
NOW = 1_700_000_000.0


def est(cost: str, model: str = MODEL) -> Estimate:
    """An estimate of 500 prompt + 500 completion tokens with a given maximum cost."""
    return Estimate(model=model, prompt_tokens=500, max_completion_tokens=500, cost=Decimal(cost))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each test runs on the in-memory store and on a SQLite file."""
    made = MemoryStore() if request.param == "memory" else open_store(f"sqlite://{tmp_path}/ledger.db")
    yield made
    made.close()


def make(store: Store, limit: str | None = None, events: list[Event] | None = None, **kw: Any) -> Ledger:
    """A ledger with a fixed clock and the test price table; no writer thread (reads and close flush)."""
    kw.setdefault("flush_interval_s", None)
    return Ledger(store=store, prices=kw.pop("prices", PRICES), limit=None if limit is None else Decimal(limit),
                  run_id="run-1", on_event=events.append if events is not None else None, clock=lambda: NOW, **kw)


def ok(ledger: Ledger, r: Reservation, prompt: int | None = 300, completion: int | None = 100) -> Decimal | None:
    """Settle a reservation as a success with the given usage."""
    return ledger.settle_ok(r, usage_prompt=prompt, usage_completion=completion, request_id="req-ok",
                            latency_s=1.2345, attempt=1, status=200)


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """Capture wrapper WARNING messages for one test."""
    captured: list[str] = []
    logger.enable("wrapper")
    handler = logger.add(lambda m: captured.append(m.record["message"]), level="WARNING")
    yield captured
    logger.remove(handler)
    logger.disable("wrapper")


def test_reservations_add_up_exactly(store: Store) -> None:
    """0.1 + 0.2 fills a 0.3 budget exactly (no float drift), and then not one more micro-dollar fits."""
    ledger = make(store, "0.3")
    ledger.reserve(est("0.1"))
    ledger.reserve(est("0.2"))
    assert Decimal(0) == ledger.remaining()
    with pytest.raises(BudgetExceededError):
        ledger.reserve(est("0.000001"))


def test_refusal_carries_the_numbers_and_writes_nothing(store: Store) -> None:
    """BudgetExceededError has estimate, spent, reserved, limit and run id; the refused call leaves no row."""
    ledger = make(store, "0.05")
    ok(ledger, ledger.reserve(est("0.01")))  # commits 0.004
    ledger.reserve(est("0.03"))
    rows_before = len(ledger.rows())
    with pytest.raises(BudgetExceededError) as info:
        ledger.reserve(est("0.02"))
    err = info.value
    assert (Decimal("0.02"), Decimal("0.004"), Decimal("0.03"), Decimal("0.05"), "run-1") == (
        err.estimate, err.spent, err.reserved, err.limit, err.run_id)
    assert rows_before == len(ledger.rows())


def test_settle_ok_commits_actual_cost_and_releases_the_rest(store: Store) -> None:
    """A success commits usage x price (300+100 tokens -> 0.004) and the 0.006 left of the hold is released."""
    ledger = make(store, "1")
    r = ledger.reserve(est("0.01"))
    assert Decimal("0.004") == ok(ledger, r)
    assert RunTotals("run-1", committed=Decimal("0.004")) == ledger.totals()
    (row,) = ledger.rows()
    expected = ("ok", 300, 100, Decimal("0.004"), Decimal("0.01"), 1234.5, 1, 200, "req-ok", r.id)
    assert expected == (row.outcome, row.prompt_tokens, row.completion_tokens, row.cost, row.estimate,
                        row.latency_ms, row.attempt, row.status, row.request_id, row.call_id)


def test_definite_failure_releases_everything(store: Store) -> None:
    """settle_error frees the whole hold and records an error row costing 0."""
    ledger = make(store, "1")
    r = ledger.reserve(est("0.5"))
    ledger.settle_error(r, request_id="req-4xx", latency_s=0.1, attempt=2, status=400, error_type="invalid_request")
    assert Decimal(1) == ledger.remaining()
    (row,) = ledger.rows()
    assert ("error", Decimal(0), 400, "invalid_request", 2) == (row.outcome, row.cost, row.status, row.error_type,
                                                                  row.attempt)


def test_uncertain_outcome_keeps_the_estimate_and_tells_the_hook(store: Store) -> None:
    """settle_uncertain turns the hold into an uncertain charge and emits UncertainCharge with the amount."""
    events: list[Event] = []
    ledger = make(store, "1", events)
    r = ledger.reserve(est("0.25"))
    ledger.settle_uncertain(r, request_id="req-to", latency_s=30.0, attempt=1, reason="APITimeoutError")
    assert RunTotals("run-1", uncertain=Decimal("0.25")) == ledger.totals()
    assert Decimal("0.25") == ledger.spent()
    charges = [e for e in events if isinstance(e, UncertainCharge)]
    assert [UncertainCharge(at=NOW, run_id="run-1", model=MODEL, amount=Decimal("0.25"), request_id="req-to",
                            reason="APITimeoutError")] == charges


def test_intermediate_attempts_keep_the_reservation_open(store: Store) -> None:
    """record_attempt adds a free row, charge_uncertain_attempt a charged one; the call then settles normally."""
    ledger = make(store, "1")
    r = ledger.reserve(est("0.4"))
    ledger.record_attempt(r, request_id="a1", latency_s=0.2, attempt=1, status=503, error_type="ServerError")
    assert ledger.charge_uncertain_attempt(r, request_id="a2", latency_s=30, attempt=2, reason="read timeout")
    ok(ledger, r)
    rows = {row.request_id: row for row in ledger.rows()}
    assert {"a1": ("error", Decimal(0)), "a2": ("uncertain", Decimal("0.4")), "req-ok": ("ok", Decimal("0.004"))} \
        == {k: (v.outcome, v.cost) for k, v in rows.items()}
    assert {r.id} == {row.call_id for row in rows.values()}
    assert RunTotals("run-1", committed=Decimal("0.004"), uncertain=Decimal("0.4")) == ledger.totals()


def test_uncertain_attempt_over_the_limit_says_stop(store: Store) -> None:
    """When an uncertain attempt's charge pushes the run past its limit, the retry is not allowed."""
    ledger = make(store, "0.5")
    r = ledger.reserve(est("0.3"))
    assert not ledger.charge_uncertain_attempt(r, request_id=None, latency_s=None, attempt=1, reason="timeout")


def test_thresholds_fire_once_each_in_order(store: Store) -> None:
    """50%, 80% and 100% events fire once each, counting reservations, however often the run crosses them."""
    events: list[Event] = []
    ledger = make(store, "1.00", events)
    first = ledger.reserve(est("0.40"))
    ledger.reserve(est("0.15"))  # 55%: 50 fires
    ledger.settle_error(first, request_id=None, latency_s=None, attempt=1, status=None, error_type="x")  # 15%
    ledger.reserve(est("0.40"))  # 55% again: nothing new
    ledger.reserve(est("0.30"))  # 85%: 80 fires
    ledger.reserve(est("0.15"))  # 100%
    seen = [(e.percent, e.spent) for e in events if isinstance(e, BudgetThreshold)]
    assert [(50, Decimal("0.55")), (80, Decimal("0.85")), (100, Decimal("1.00"))] == seen


def test_unknown_price_under_a_budget_is_refused_clearly(store: Store) -> None:
    """A budget with no price and no fallback raises ConfigError naming both settings, before any row."""
    ledger = make(store, "1")
    estimate = ledger.estimate("acme/unknown", [{"role": "user", "content": "hi"}], 10)
    assert estimate.cost is None
    with pytest.raises(ConfigError, match="TOGETHER_FALLBACK_PRICE or TOGETHER_PRICES_FILE"):
        ledger.reserve(estimate)
    assert ledger.rows() == []


def test_fallback_price_prices_unknown_models(store: Store) -> None:
    """With a fallback price the unknown model gets an estimate and an actual cost at that price."""
    ledger = make(store, "1", fallback_price=Decimal("2"))
    estimate = ledger.estimate("acme/unknown", [{"role": "user", "content": "hi"}], 100)
    assert Price(2, 2).cost(estimate.prompt_tokens, 100) == estimate.cost
    assert Decimal("0.0008") == ok(ledger, ledger.reserve(estimate))


def test_unknown_price_without_budget_is_unknown_and_warned_once(store: Store, warnings: list[str]) -> None:
    """Without a budget an unknown model's cost is None (not 0), recorded as such, with one warning per model."""
    ledger = make(store)
    for _ in range(3):
        estimate = ledger.estimate("acme/Unknown", [{"role": "user", "content": "hi"}], 10)
        assert ok(ledger, ledger.reserve(estimate)) is None
    assert sum("acme/Unknown" in w for w in warnings) == 1
    assert [row.cost for row in ledger.rows()] == [None, None, None]


def test_missing_usage_charges_the_estimate(store: Store) -> None:
    """An answer without usage was billed an unknown amount: the estimate (500 + 500 tokens) is committed."""
    ledger = make(store, "1")
    assert Decimal("0.01") == ok(ledger, ledger.reserve(est("0.01")), None, None)
    assert Decimal("0.01") == ledger.totals().committed


def test_settling_twice_is_a_bug(store: Store) -> None:
    """A reservation settles exactly once; the second attempt raises and changes nothing."""
    ledger = make(store, "1")
    r = ledger.reserve(est("0.1"))
    ok(ledger, r)
    with pytest.raises(RuntimeError, match="already settled"):
        ledger.settle_error(r, request_id=None, latency_s=None, attempt=1, status=None, error_type="x")
    assert Decimal("0.004") == ledger.totals().committed


def test_estimate_bounds_the_completion_and_prices_it(store: Store) -> None:
    """No max_tokens means default_max_tokens; the cost is prompt x input + max_tokens x output, exactly."""
    ledger = make(store, prices=PriceTable().with_overrides({MODEL: Price("0.8", "1.6")}), default_max_tokens=777)
    estimate = ledger.estimate(MODEL, [{"role": "user", "content": "hello"}])
    expected = (Decimal("0.8") * estimate.prompt_tokens + Decimal("1.6") * 777) / 1_000_000
    assert (777, expected) == (estimate.max_completion_tokens, estimate.cost)


def test_usage_teaches_the_estimator(store: Store) -> None:
    """A success's reported prompt tokens update the model's ratio for the next expected estimates."""
    ledger = make(store)
    messages = [{"role": "user", "content": "word " * 400}]
    estimate = ledger.estimate(MODEL, messages, 10)
    ok(ledger, ledger.reserve(estimate), prompt=estimate.size.units, completion=1)
    assert ledger.estimator.ratio(MODEL) == 1.0
    assert ledger.estimate(MODEL, messages, 10).expected_prompt_tokens > estimate.expected_prompt_tokens


class BrokenStore(MemoryStore):
    """A store whose writes fail, to show how the ledger reports failures."""

    def take_lease(self, req: LeaseRequest) -> LeaseAnswer:
        raise OSError("disk full")

    def write(self, entries: Sequence[Entry], heartbeat: Heartbeat | None) -> WriteAnswer:
        raise OSError("disk full")


def test_store_failure_refuses_before_io_but_never_loses_an_answer(warnings: list[str]) -> None:
    """A failing reserve raises ConfigError (nothing sent); a failing settle is logged, not raised."""
    ledger = make(BrokenStore(), "1")
    with pytest.raises(ConfigError, match="TOGETHER_LEDGER_URL"):
        ledger.reserve(est("0.1"))
    r = Reservation(id="x", run_id="run-1", estimate=est("0.1"), amount=Decimal("0.1"))
    assert Decimal("0.004") == ok(ledger, r)
    ledger.flush()  # the write fails: logged, the row stays queued for the next flush


def test_from_settings_builds_budget_store_and_run() -> None:
    """from_settings reads the budget, fallback, default max_tokens, run id and TOGETHER_LEDGER_URL=memory."""
    settings = Settings(ledger_url="memory", max_estimated_cost=Decimal("2.5"), fallback_price=Decimal("1"),
                        default_max_tokens=64, run_id="nightly")
    with Ledger.from_settings(settings) as ledger:
        assert (Decimal("2.5"), "nightly", 64) == (ledger.limit, ledger.run_id, ledger.default_max_tokens)
        assert ledger.estimate("acme/unknown", [{"role": "user", "content": "x"}]).cost is not None


def test_default_run_ids_are_unique() -> None:
    """Two ledgers without a run id get different runs, so their budgets are separate."""
    a, b = Ledger(store=MemoryStore()), Ledger(store=MemoryStore())
    assert a.run_id != b.run_id and a.run_id.startswith("run-")


def test_store_urls(tmp_path: Path) -> None:
    """memory and sqlite:// URLs open their stores; an unknown scheme is a ConfigError naming the variable."""
    assert isinstance(open_store("memory"), MemoryStore)
    sqlite = open_store(f"sqlite://{tmp_path}/sub/l.db")
    sqlite.close()
    assert (tmp_path / "sub" / "l.db").is_file()
    with pytest.raises(ConfigError, match="TOGETHER_LEDGER_URL"):
        open_store("mysql://host/db")


def test_default_store_is_sqlite_under_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no TOGETHER_LEDGER_URL the ledger is $XDG_DATA_HOME/together-wrapper/ledger.db."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    open_store(None).close()
    assert (tmp_path / "together-wrapper" / "ledger.db").is_file()
