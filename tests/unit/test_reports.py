"""Unit tests of cost reports: totals by model, day and run; cumulative spend; CSV and JSON exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from wrapper._ledger._store import LedgerRow
from wrapper._observe._reports import CumulativePoint, cumulative, grand_total, to_csv, to_json, totals

DAY1 = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)
DAY2 = datetime(2026, 11, 27, 0, 1, tzinfo=UTC)


def row(n: int, outcome: str, cost: str | None, *, model: str = "Qwen/A", run: str = "r1", when: datetime = DAY1,
        estimate: str = "0.5", tokens: tuple[int, int] | None = (10, 5)) -> LedgerRow:
    """A ledger row with the fields reports read."""
    return LedgerRow(id=f"id{n}", time=when, run_id=run, call_id=f"id{n}", model=model, outcome=outcome,
                     attempt=1, prompt_tokens=tokens[0] if tokens else None,
                     completion_tokens=tokens[1] if tokens else None, estimate=Decimal(estimate),
                     cost=None if cost is None else Decimal(cost))


ROWS = [
    row(1, "ok", "0.1"),
    row(2, "ok", "0.2", model="qwen/a", when=DAY2),
    row(3, "uncertain", "0.5", model="meta/B", run="r2", when=DAY2, tokens=None),
    row(4, "error", "0", model="meta/B", run="r2"),
    row(5, "reserved", None, model="meta/B", run="r2", when=DAY2, estimate="0.25"),
    row(6, "ok", None, model="acme/unpriced", run="r2", when=DAY2),
]


def test_totals_by_model_merge_spellings_and_split_outcomes() -> None:
    """By model: ids group case-insensitively; committed, uncertain, reserved and unpriced are kept apart, exactly."""
    by_model = {t.key: t for t in totals(ROWS, by="model")}
    assert sorted(by_model) == ["Qwen/A", "acme/unpriced", "meta/B"]
    qwen, meta = by_model["Qwen/A"], by_model["meta/B"]
    assert (2, Decimal("0.3"), Decimal("0.3"), 20, 10) == (qwen.ok, qwen.cost, qwen.spent, qwen.prompt_tokens,
                                                          qwen.completion_tokens)
    assert (2, 1, 1, 1, Decimal(0), Decimal("0.5"), Decimal("0.25"), Decimal("0.5")) == (
        meta.attempts, meta.errors, meta.uncertain, meta.reserved, meta.cost, meta.uncertain_cost,
        meta.reserved_cost, meta.spent)
    assert (1, Decimal(0)) == (by_model["acme/unpriced"].unpriced, by_model["acme/unpriced"].cost)


def test_totals_by_day_and_run() -> None:
    """By UTC day and by run, spent adds committed and uncertain of that group only."""
    assert {"2026-11-26": Decimal("0.1"), "2026-11-27": Decimal("0.7")} == {
        t.key: t.spent for t in totals(ROWS, by="day")}
    assert {"r1": Decimal("0.3"), "r2": Decimal("0.5")} == {t.key: t.spent for t in totals(ROWS, by="run")}
    assert Decimal("0.8") == grand_total(ROWS).spent


def test_unknown_grouping_is_refused() -> None:
    """Grouping by anything but model, day or run is a ValueError."""
    with pytest.raises(ValueError, match="model, day, run"):
        totals(ROWS, by="week")  # type: ignore[arg-type]


def test_cumulative_spend_over_time() -> None:
    """Cumulative points follow time order, skip unpriced, error and reserved rows, and add up exactly."""
    points = cumulative(reversed(ROWS))
    assert [Decimal("0.1"), Decimal("0.3"), Decimal("0.8")] == [p.total for p in points]
    assert CumulativePoint(DAY1, "r1", "Qwen/A", Decimal("0.1"), Decimal("0.1")) == points[0]


def test_csv_export_round_trips_exact_values() -> None:
    """CSV has a header of the record's fields, exact decimal strings, ISO times and empty cells for None."""
    parsed = list(csv.DictReader(io.StringIO(to_csv(ROWS))))
    assert len(parsed) == 6
    assert (parsed[0]["cost"], parsed[0]["time"], parsed[0]["outcome"]) == ("0.1", "2026-11-26T23:59:00+00:00", "ok")
    assert parsed[4]["cost"] == ""
    assert to_csv([]) == ""


def test_json_export_of_totals_keeps_money_exact() -> None:
    """JSON exports money as decimal strings (no float), one object per record."""
    doc = json.loads(to_json(totals(ROWS, by="run")))
    spent = [{"key": d["key"], "spent": d["spent"]} for d in doc]
    assert spent == [{"key": "r1", "spent": "0.3"}, {"key": "r2", "spent": "0.5"}]
    assert to_json([]) == "[]"
