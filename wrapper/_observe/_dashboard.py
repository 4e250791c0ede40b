"""Render ledger rows into one self-contained, offline HTML dashboard of cost and usage.

Python does the arithmetic (buckets, cumulative cost, percentiles) and embeds
the result as JSON in ``<script type="application/json">``; a small inline script in
``_dashboard_template.html`` draws the charts as inline SVG. No server, no CDN, no external
file: the page opens from disk without a network. Every string from the rows is
HTML-escaped (tiles) or JSON-escaped and set with ``textContent`` (charts); model ids and
ids also pass through the log redactor, so a key planted anywhere never reaches the page.
Rows never carry message contents.

Latency percentiles here interpolate linearly between ranks (numpy's default), so p95 and
p99 stay distinct lines even in buckets of a few attempts; ``ClientMetrics.snapshot()``
reports nearest-rank values instead (always a latency that really occurred).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import attrs

from .._ledger._lease import STALE_MODEL
from ._log import redact

__all__ = ["DashboardRow", "UsageRow", "render_dashboard", "write_dashboard"]

OUTCOMES = ("ok", "error", "uncertain")
_MAX_POINTS = 600  # cumulative-cost points kept; enough for a smooth line, small enough for a lean file
_TEMPLATE = "_dashboard_template.html"  # package data beside this module
_MAX_MODELS = 10  # the rest are summed into "other models"


class UsageRow(Protocol):
    """What the dashboard reads from a ledger row (a :class:`DashboardRow` or any look-alike)."""

    @property
    def time(self) -> datetime: ...
    @property
    def run_id(self) -> str: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def model(self) -> str: ...
    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def completion_tokens(self) -> int | None: ...
    @property
    def cost(self) -> Decimal | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def latency_ms(self) -> float | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def status(self) -> int | None: ...


@attrs.frozen(kw_only=True)
class DashboardRow:
    """One ledger entry for the dashboard: an attempt's usage, charge and outcome.

    ``outcome`` is ``ok``, ``error``, ``uncertain`` (maybe billed, estimate charged) or
    ``reserved`` (schema-1 history only: a call in flight; its ``cost`` is the held estimate). ``time`` is UTC.
    A budget lease of a dead client settled as stale is an ``uncertain`` row of the model ``(stale lease)``:
    counted in spend and in the "Uncertain" tile, not as an attempt.
    """

    time: datetime
    run_id: str
    request_id: str | None
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: Decimal | None
    outcome: str
    latency_ms: float | None
    attempt: int = 1
    status: int | None = None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bucketing(first: datetime, last: datetime) -> tuple[str, timedelta]:
    """Pick hours for up to two days of data, days up to ~4 months, weeks beyond."""
    span = last - first
    if span <= timedelta(hours=48):
        return "hour", timedelta(hours=1)
    return ("day", timedelta(days=1)) if span <= timedelta(days=120) else ("week", timedelta(days=7))


def _floor(moment: datetime, unit: str) -> datetime:
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if unit == "week" else day


def _label(moment: datetime, unit: str) -> str:
    return moment.strftime("%b %d %H:00") if unit == "hour" else moment.strftime("%b %d")


def _percentile(sorted_values: Sequence[float], percent: float) -> float | None:
    """Linearly interpolated percentile of an ascending sequence; ``None`` when empty."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * percent / 100
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return round(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low), 3)


def _money(amount: Decimal) -> str:
    return f"${amount:,.4f}" if abs(amount) < 1 else f"${amount:,.2f}"


def _safe(text: str | None) -> str:
    return "" if text is None else redact(str(text))


def _series(rows: Sequence[UsageRow]) -> dict[str, Any]:
    """Per-bucket tokens, outcomes, retries and latency percentiles, with empty buckets filled in."""
    unit, step = _bucketing(_utc(rows[0].time), _utc(rows[-1].time))
    groups: dict[datetime, list[UsageRow]] = defaultdict(list)
    for row in rows:
        groups[_floor(_utc(row.time), unit)].append(row)
    start, end = min(groups), max(groups)
    labels, tokens, outcomes, retries, latency = [], [], [], [], []
    moment = start
    while moment <= end:
        bucket = groups.get(moment, [])
        labels.append(_label(moment, unit))
        tokens.append([sum(r.prompt_tokens or 0 for r in bucket), sum(r.completion_tokens or 0 for r in bucket)])
        kinds = [r.outcome if r.outcome in OUTCOMES else "error" for r in bucket]
        outcomes.append([kinds.count(kind) for kind in OUTCOMES])
        retries.append([sum(r.attempt <= 1 for r in bucket), sum(r.attempt > 1 for r in bucket)])
        ms = sorted(r.latency_ms for r in bucket if r.latency_ms is not None and math.isfinite(r.latency_ms))
        latency.append([_percentile(ms, p) for p in (50, 95, 99)])
        moment += step
    return {"unit": unit, "labels": labels, "tokens": tokens, "outcomes": outcomes, "retries": retries,
            "latency": latency}


def _cost_series(charged: Sequence[UsageRow]) -> tuple[list[list[float]], list[list[Any]]]:
    """Cumulative cost points ``[epoch_ms, dollars]`` (thinned) and cost by model, largest first."""
    points: list[list[float]] = []
    total = Decimal(0)
    by_model: dict[str, Decimal] = defaultdict(Decimal)
    for row in charged:
        if row.cost is None:
            continue
        total += row.cost
        by_model[_safe(row.model)] += row.cost
        points.append([_utc(row.time).timestamp() * 1000, float(total)])
    if len(points) > _MAX_POINTS:
        stride = -(-len(points) // _MAX_POINTS)
        points = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    ranked = sorted(by_model.items(), key=lambda item: (-item[1], item[0]))
    models = [[name, float(cost)] for name, cost in ranked[:_MAX_MODELS]]
    if len(ranked) > _MAX_MODELS:
        models.append([f"{len(ranked) - _MAX_MODELS} other models", float(sum(c for _, c in ranked[_MAX_MODELS:]))])
    return points, models


def _tiles(charged: Sequence[UsageRow], spent: Decimal, budget_limit: Decimal | None) -> list[tuple[str, str, str]]:
    """The headline numbers as (label, value, note), already formatted."""
    ms = sorted(r.latency_ms for r in charged if r.latency_ms is not None and math.isfinite(r.latency_ms))
    p95 = _percentile(ms, 95)
    budget = "no limit" if budget_limit is None else f"of {_money(budget_limit)} budget"
    stale = [r for r in charged if r.model == STALE_MODEL]
    uncertain = sum((r.cost or Decimal(0) for r in charged if r.outcome == "uncertain"), Decimal(0))
    charged = [r for r in charged if r.model != STALE_MODEL]  # a settled lease is a charge, not an attempt
    ok = sum(r.outcome == "ok" for r in charged)
    return [
        ("Spent", _money(spent), budget),
        ("Uncertain", _money(uncertain), f"{len(stale):,} stale lease(s): "
                                         f"{_money(sum((r.cost or Decimal(0) for r in stale), Decimal(0)))}"),
        ("Attempts", f"{len(charged):,}", f"{len({r.request_id for r in charged if r.request_id}):,} requests"),
        ("Success rate", f"{100 * ok / len(charged):.1f}%" if charged else "n/a", f"{ok:,} ok"),
        ("Retries", f"{sum(r.attempt > 1 for r in charged):,}", "attempts > 1"),
        ("Tokens in", f"{sum(r.prompt_tokens or 0 for r in charged):,}", "prompt"),
        ("Tokens out", f"{sum(r.completion_tokens or 0 for r in charged):,}", "completion"),
        ("Latency p95", "n/a" if p95 is None else f"{p95:,.0f} ms", f"{len(ms):,} timed attempts"),
    ]


def _payload(rows: Sequence[UsageRow], budget_limit: Decimal | None) -> tuple[dict[str, Any], list[Any], str]:
    charged = [r for r in rows if r.outcome != "reserved"]
    spent = sum((r.cost for r in charged if r.cost is not None), Decimal(0))
    reserved = sum((r.cost for r in rows if r.outcome == "reserved" and r.cost is not None), Decimal(0))
    cost_time, cost_model = _cost_series(charged)
    data: dict[str, Any] = {
        "cost_time": cost_time, "cost_model": cost_model,
        "budget": {"limit": None if budget_limit is None else float(budget_limit),
                   "spent": float(spent), "reserved": float(reserved)},
    }
    data.update(_series(charged) if charged else {"unit": "day", "labels": [], "tokens": [], "outcomes": [],
                                                  "retries": [], "latency": []})
    span = f"{_utc(rows[0].time):%Y-%m-%d %H:%M} → {_utc(rows[-1].time):%Y-%m-%d %H:%M} UTC" if rows else "no data"
    return data, _tiles(charged, spent, budget_limit), span


def _json_for_script(data: dict[str, Any]) -> str:
    """JSON that cannot close its ``<script>`` element or open a comment, whatever the strings hold."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_dashboard(
    rows: Iterable[UsageRow], *, title: str, budget_limit: Decimal | None, generated_at: datetime
) -> str:
    """Return the complete HTML of a self-contained dashboard (opens offline, no external files).

    Args:
        rows: ledger rows in any order (see :class:`DashboardRow`).
        title: the page heading (escaped).
        budget_limit: the budget in dollars for the "budget used" bar, ``None`` when unlimited.
        generated_at: when the report was made, shown in the header (UTC).

    Returns:
        The HTML document as a string.
    """
    ordered = sorted(rows, key=lambda r: _utc(r.time))
    data, tiles, span = _payload(ordered, budget_limit)
    tile_html = "\n".join(
        f'<div class="tile"><div class="tl">{html.escape(label)}</div><div class="tv">{html.escape(value)}</div>'
        f'<div class="tn">{html.escape(note)}</div></div>'
        for label, value, note in tiles
    )
    subtitle = f"Generated {_utc(generated_at):%Y-%m-%d %H:%M} UTC · {len(ordered):,} ledger rows · {span}"
    runs = sorted({_safe(r.run_id) for r in ordered})
    if runs:
        subtitle += f" · {len(runs)} run{'s' if len(runs) != 1 else ''}"
    fills = {"TITLE": html.escape(redact(title)), "SUBTITLE": html.escape(subtitle), "TILES": tile_html,
             "DATA": _json_for_script(data)}
    template = resources.files(__package__ or "wrapper._observe").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    # One pass, so text inserted for one placeholder is never scanned for another.
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: fills.get(m.group(1), m.group(0)), template)


def write_dashboard(
    path: str | Path,
    rows: Iterable[UsageRow],
    *,
    title: str = "Together usage",
    budget_limit: Decimal | None = None,
    generated_at: datetime | None = None,
) -> Path:
    """Render the dashboard and write it to ``path`` (UTF-8); returns the path written.

    ``generated_at`` defaults to now (UTC). See :func:`render_dashboard` for the arguments.
    """
    target = Path(path)
    when = generated_at if generated_at is not None else datetime.now(UTC)
    page = render_dashboard(rows, title=title, budget_limit=budget_limit, generated_at=when)
    target.write_text(page, encoding="utf-8")
    return target
