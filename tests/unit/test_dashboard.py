"""The dashboard's numbers, escaping and self-containment, checked on the HTML without a browser."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from wrapper._observe._dashboard import DashboardRow, render_dashboard, write_dashboard

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
GENERATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PLANTED_KEY = "sk-test-PLANTED1234567890abcdef"


def row(at: timedelta, request_id: str, model: str, tokens: tuple[int | None, int | None], cost: str | None,
        outcome: str, latency_ms: float | None, attempt: int = 1, run_id: str = "run-1") -> DashboardRow:
    """A ledger row ``at`` after T0."""
    return DashboardRow(time=T0 + at, run_id=run_id, request_id=request_id, model=model, prompt_tokens=tokens[0],
                        completion_tokens=tokens[1], cost=None if cost is None else Decimal(cost), outcome=outcome,
                        latency_ms=latency_ms, attempt=attempt, status=200 if outcome == "ok" else None)


DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
ROWS = [
    row(3 * DAY + HOUR, "f", "m/y", (None, None), "0.30", "reserved", None),
    row(0 * DAY, "a", "m/x", (100, 50), "0.10", "ok", 100.0),
    row(HOUR, "b", "m/y", (200, None), "0.05", "uncertain", None),
    row(DAY, "c", "m/x", (None, None), None, "error", 300.0),
    row(DAY + MINUTE, "c", "m/x", (10, 20), "0.20", "ok", 200.0, attempt=2),
    row(3 * DAY, "e", "m/y", (40, 60), "0.01", "ok", 400.0),
]


def data_of(page: str) -> dict[str, Any]:
    """The JSON embedded in the page's data script."""
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert match is not None
    parsed: dict[str, Any] = json.loads(match.group(1))
    return parsed


def test_embedded_numbers_match_the_rows() -> None:
    """Daily buckets (gaps filled), tokens, outcomes, retries, interpolated percentiles, cost and budget match."""
    page = render_dashboard(ROWS, title="Costs", budget_limit=Decimal("1"), generated_at=GENERATED)
    data = data_of(page)
    ms = T0.timestamp() * 1000
    expected = {
        "unit": "day", "labels": ["Nov 20", "Nov 21", "Nov 22", "Nov 23"],
        "tokens": [[300, 50], [10, 20], [0, 0], [40, 60]],
        "outcomes": [[1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0]],
        "retries": [[2, 0], [1, 1], [0, 0], [1, 0]],
        "latency": [[100.0, 100.0, 100.0], [250.0, 295.0, 299.0], [None, None, None], [400.0, 400.0, 400.0]],
        "cost_model": [["m/x", 0.3], ["m/y", 0.06]],
        "cost_time": [[ms, 0.1], [ms + 3600e3, 0.15], [ms + 86460e3, 0.35], [ms + 3 * 86400e3, 0.36]],
        "budget": {"limit": 1.0, "spent": 0.36, "reserved": 0.3},
    }
    assert expected == data
    for tile in ("$0.3600", "of $1.00 budget", "60.0%", "4 requests", "385 ms"):
        assert tile in page


def test_short_span_uses_hourly_buckets() -> None:
    """Rows within two days are bucketed by hour, empty hours included."""
    rows = [row(h * HOUR, f"r{h}", "m", (1, 1), "0.01", "ok", 10.0) for h in (0, 2, 5)]
    data = data_of(render_dashboard(rows, title="t", budget_limit=None, generated_at=GENERATED))
    assert data["unit"] == "hour"
    assert [f"Nov 20 {h}:00" for h in range(10, 16)] == data["labels"]
    assert [ok for ok, _, _ in data["outcomes"]] == [1, 0, 1, 0, 0, 1]


def test_many_models_and_points_are_bounded() -> None:
    """Beyond ten models the rest are summed; thousands of rows give at most ~600 cost points, ending at the total."""
    rows = [row(i * MINUTE, f"r{i}", f"org/m{i % 12:02d}", (1, 1), "0.001", "ok", 5.0) for i in range(2000)]
    data = data_of(render_dashboard(rows, title="t", budget_limit=None, generated_at=GENERATED))
    assert len(data["cost_model"]) == 11
    assert data["cost_model"][-1][0] == "2 other models"
    assert len(data["cost_time"]) <= 601
    assert data["cost_time"][-1][1] == 2.0
    assert round(sum(cost for _, cost in data["cost_model"]), 9) == 2.0


def test_planted_keys_and_markup_never_reach_the_page() -> None:
    """Keys in ids, models and the title are redacted, and markup in any string is escaped, not executed."""
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    rows = [
        row(0 * DAY, PLANTED_KEY, PLANTED_KEY, (1, 1), "0.01", "ok", 1.0,
            run_id=f"Authorization: Bearer {PLANTED_KEY}"),
        row(HOUR, "r2", evil, (1, 1), "0.01", "error", 1.0, run_id=evil),
        row(2 * HOUR, "r3", f"api_key={PLANTED_KEY}", (1, 1), "0.01", "ok", 1.0),
    ]
    page = render_dashboard(rows, title=f"Costs {PLANTED_KEY} {evil}", budget_limit=None, generated_at=GENERATED)
    assert "PLANTED" not in page
    assert "<img" not in page
    assert "alert(1)</script>" not in page
    assert page.count("<script") == 3  # the template's own three, nothing injected
    assert evil in [name for name, _ in data_of(page)["cost_model"]]  # escaped in transit, intact as data


def test_page_is_self_contained() -> None:
    """The page loads nothing: no src/href attributes and no URL but the SVG namespace."""
    page = render_dashboard(ROWS, title="t", budget_limit=None, generated_at=GENERATED)
    assert re.search(r"\b(src|href)\s*=", page) is None
    assert {"http://www.w3.org/2000/svg"} == set(re.findall(r"https?://[^\s\"')]+", page))


def test_empty_ledger_renders() -> None:
    """With no rows the page still renders, with empty series and placeholder tiles."""
    page = render_dashboard([], title="t", budget_limit=Decimal("5"), generated_at=GENERATED)
    data = data_of(page)
    expected_budget = {"limit": 5.0, "spent": 0.0, "reserved": 0.0}
    assert (data["labels"], data["cost_time"], data["budget"]) == ([], [], expected_budget)
    assert "no data" in page


def test_write_dashboard_writes_the_file(tmp_path: Path) -> None:
    """write_dashboard writes the rendered page to the given path and returns it."""
    target = write_dashboard(tmp_path / "d.html", ROWS, title="Written", generated_at=GENERATED)
    assert tmp_path / "d.html" == target
    assert target.read_text(encoding="utf-8") == render_dashboard(ROWS, title="Written", budget_limit=None,
                                                                  generated_at=GENERATED)
