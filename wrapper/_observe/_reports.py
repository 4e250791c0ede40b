"""Cost reports over ledger rows: totals by model, day, run or mode; cumulative cost; CSV and JSON export.

``mode`` tells real-time from Batch API spend: Batch API rows carry the model ``batch:<model id>`` (priced at the
batch price, see :mod:`wrapper._ledger._pricing`), so ``by="mode"`` gives one ``realtime`` and one ``batch`` line.

Pure functions over :class:`~wrapper._ledger._store.LedgerRow` lists (get them from ``Ledger.rows()`` or
``open_store(url).rows()``), returning plain frozen attrs records for the ``costs`` CLI and the dashboard.
Money is Decimal throughout; exports write it as exact decimal strings (JSON too, so no float creeps in).

What counts: ``cost`` is committed spend (``ok`` rows with a known price), ``uncertain_cost`` the kept
estimates of attempts that may have been billed -- including ``stale_cost``, what settling the leases of dead
clients charged (rows of the pseudo-model ``(stale lease)``, not counted as attempts) -- and ``reserved_cost``
what ``reserved`` rows of schema-1 history hold. ``spent = cost + uncertain_cost``.

Budget leases (:func:`lease_totals`, from ``Ledger.leases()``): each run's leases by state -- ``open`` (held
by a live client, or by one that died and has not expired yet), ``expired`` (open, but its owner stopped
heartbeating: the next lease taken in the run, or ``costs --reconcile``, settles it), ``closed`` (its rest was
given back) and ``stale`` (settled as an uncertain charge).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from .._ledger._lease import STALE_MODEL, LeaseRow
from .._ledger._pricing import BATCH_PREFIX
from .._ledger._records import LedgerRow

__all__ = ["CumulativePoint", "GroupBy", "LeaseTotal", "Total", "cumulative", "grand_total", "lease_totals",
           "to_csv", "to_json", "totals"]

GroupBy = Literal["model", "day", "run", "mode"]
ZERO = Decimal(0)


@attrs.frozen
class Total:
    """Totals of a group of attempts (a model, a UTC day ``YYYY-MM-DD``, a run, or ``all``)."""

    key: str
    attempts: int
    ok: int
    errors: int
    uncertain: int
    reserved: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    uncertain_cost: Decimal
    reserved_cost: Decimal
    spent: Decimal
    unpriced: int
    """Successful attempts whose cost is unknown (no price for the model): ``cost`` under-counts by those."""
    stale_leases: int = 0
    """Leases of dead clients settled as uncertain charges (their ``(stale lease)`` rows)."""
    stale_cost: Decimal = ZERO
    """What those settlements charged (part of ``uncertain_cost``)."""


@attrs.frozen
class LeaseTotal:
    """One run's budget leases: how many in each state and the money they moved (USD)."""

    run_id: str
    open: int
    expired: int
    closed: int
    stale: int
    granted: Decimal
    held: Decimal
    """Still held by open leases (counted as reserved by the run's budget)."""
    returned: Decimal
    stale_charge: Decimal
    """Charged as uncertain when stale leases were settled."""


@attrs.frozen
class CumulativePoint:
    """Spending over time: the charge of one row (``ok`` or ``uncertain``) and the running total after it."""

    time: datetime
    run_id: str
    model: str
    amount: Decimal
    total: Decimal


_KEYS: dict[str, Callable[[LedgerRow], str]] = {
    "model": lambda r: r.model,
    "day": lambda r: r.time.date().isoformat(),
    "run": lambda r: r.run_id,
    "mode": lambda r: "batch" if r.model.lower().startswith(BATCH_PREFIX) else "realtime",
}


def _total(key: str, rows: Sequence[LedgerRow]) -> Total:
    def count(outcome: str) -> int:
        return sum(1 for r in rows if r.outcome == outcome)

    def money(outcome: str, pick: Callable[[LedgerRow], Decimal | None]) -> Decimal:
        return sum((pick(r) or ZERO for r in rows if r.outcome == outcome), ZERO)

    cost = money("ok", lambda r: r.cost)
    uncertain = money("uncertain", lambda r: r.cost)
    stale = [r for r in rows if r.model == STALE_MODEL]
    return Total(
        key=key,
        attempts=sum(1 for r in rows if r.outcome != "reserved" and r.model != STALE_MODEL),
        ok=count("ok"),
        errors=count("error"),
        uncertain=count("uncertain") - len(stale),
        reserved=count("reserved"),
        prompt_tokens=sum(r.prompt_tokens or 0 for r in rows if r.outcome != "reserved"),
        completion_tokens=sum(r.completion_tokens or 0 for r in rows if r.outcome != "reserved"),
        cost=cost,
        uncertain_cost=uncertain,
        reserved_cost=money("reserved", lambda r: r.estimate),
        spent=cost + uncertain,
        unpriced=sum(1 for r in rows if r.outcome == "ok" and r.cost is None),
        stale_leases=len(stale),
        stale_cost=sum((r.cost or ZERO for r in stale), ZERO),
    )


def lease_totals(leases: Iterable[LeaseRow], now: datetime) -> list[LeaseTotal]:
    """Each run's leases by state (``expired`` = open past its expiry at ``now``), sorted by run."""
    runs: dict[str, list[LeaseRow]] = {}
    for lease in leases:
        runs.setdefault(lease.run_id, []).append(lease)
    out = []
    for run_id in sorted(runs):
        group = runs[run_id]

        def total(pick: Callable[[LeaseRow], Decimal], group: list[LeaseRow] = group) -> Decimal:
            return sum((pick(x) for x in group), ZERO)

        expired = sum(1 for x in group if x.expired(now))
        out.append(LeaseTotal(
            run_id=run_id, open=sum(1 for x in group if x.state == "open") - expired, expired=expired,
            closed=sum(1 for x in group if x.state == "closed"), stale=sum(1 for x in group if x.state == "stale"),
            granted=total(lambda x: x.granted), held=total(lambda x: max(x.held, ZERO) if x.state == "open" else ZERO),
            returned=total(lambda x: x.returned), stale_charge=total(lambda x: x.stale_charge)))
    return out


def totals(rows: Iterable[LedgerRow], by: GroupBy) -> list[Total]:
    """Group rows by model (case-insensitively, shown as first spelled), UTC day, or run; sorted by key.

    Token counts are those reported by Together (reserved rows hold estimates and are not counted).
    """
    if by not in _KEYS:
        raise ValueError(f"by must be one of {', '.join(_KEYS)}, got {by!r}")
    groups: dict[str, list[LedgerRow]] = {}
    names: dict[str, str] = {}
    for row in rows:
        key = _KEYS[by](row)
        norm = key.lower() if by == "model" else key
        names.setdefault(norm, key)
        groups.setdefault(norm, []).append(row)
    return sorted((_total(names[k], g) for k, g in groups.items()), key=lambda t: t.key)


def grand_total(rows: Iterable[LedgerRow]) -> Total:
    """Totals of every row, keyed ``all``."""
    return _total("all", list(rows))


def cumulative(rows: Iterable[LedgerRow]) -> list[CumulativePoint]:
    """Cumulative spend (committed + uncertain) over time, one point per charged row, oldest first."""
    points: list[CumulativePoint] = []
    running = ZERO
    for row in sorted(rows, key=lambda r: (r.time, r.id)):
        if row.outcome not in ("ok", "uncertain") or row.cost is None:
            continue
        running += row.cost
        points.append(CumulativePoint(row.time, row.run_id, row.model, row.cost, running))
    return points


def _plain(value: object) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _records(records: Sequence[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    if not records:
        return [], []
    names = [f.name for f in attrs.fields(type(records[0]))]
    return names, [{n: _plain(getattr(rec, n)) for n in names} for rec in records]


def to_csv(records: Sequence[Any]) -> str:
    """Export attrs records (ledger rows, totals, cumulative points) as CSV with a header; None is empty."""
    names, dicts = _records(records)
    out = io.StringIO()
    if names:
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
    return out.getvalue()


def to_json(records: Sequence[Any]) -> str:
    """Export attrs records as a JSON array of objects; money as decimal strings, times as ISO-8601 UTC."""
    return json.dumps(_records(records)[1], indent=2)
