"""The ledger's records: an attempt row, a run's totals, and what the writer and lease transactions exchange.

Outcomes: ``ok`` (``cost`` is the actual cost, None if the price is unknown), ``error`` (a definite failure, cost
0), ``uncertain`` (may have been billed: ``cost`` is the estimate, kept as a charge; also the row a reconciled
stale lease leaves). ``reserved`` is accepted when reading but no longer written: schema version 1 wrote a row
per call in flight, and the migration to version 2 settles those rows. Rows never hold the API key or message
contents: there is no column for either.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from ._lease import LeaseRow

__all__ = ["COLUMNS", "OUTCOMES", "ZERO", "Entry", "Heartbeat", "LeaseAnswer", "LedgerRow", "RunTotals",
           "WriteAnswer", "charge_of", "entry_of", "settle_deltas"]

OUTCOMES = ("reserved", "ok", "error", "uncertain")
ZERO = Decimal(0)


@attrs.frozen
class LedgerRow:
    """One finished attempt (history).

    Attributes:
        id: unique row id; a call's final row has the call's id (its ``call_id``).
        time: when the attempt ended, UTC.
        call_id: the reservation this attempt belongs to (every attempt of one call shares it).
        estimate: the call's maximum cost held by the reservation (USD), or None when the price is unknown.
        cost: actual cost (ok), the kept estimate (uncertain), 0 (error), None (unknown price).
        latency_ms: the attempt's duration; status: its HTTP status (None without an answer).
    """

    id: str
    time: datetime
    run_id: str
    call_id: str
    model: str
    outcome: str = attrs.field(validator=attrs.validators.in_(OUTCOMES))
    attempt: int = 0
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    estimate: Decimal | None = None
    cost: Decimal | None = None
    latency_ms: float | None = None
    status: int | None = None
    error_type: str | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in attrs.fields(LedgerRow))


@attrs.frozen
class RunTotals:
    """A run's budget row: USD committed (actual costs), reserved (held by leases) and uncertain (kept charges)."""

    run_id: str
    committed: Decimal = ZERO
    reserved: Decimal = ZERO
    uncertain: Decimal = ZERO

    @property
    def spent(self) -> Decimal:
        """What has (or may have) been billed: committed + uncertain."""
        return self.committed + self.uncertain

    @property
    def used(self) -> Decimal:
        """What counts against the budget: committed + reserved + uncertain."""
        return self.committed + self.reserved + self.uncertain


def settle_deltas(row: LedgerRow) -> tuple[Decimal, Decimal]:
    """Return (committed, uncertain) increments a final row adds to its run's totals."""
    cost = row.cost or ZERO
    if row.outcome == "ok":
        return cost, ZERO
    if row.outcome == "uncertain":
        return ZERO, cost
    return ZERO, ZERO


def charge_of(row: LedgerRow) -> Decimal:
    """What a row takes out of its lease: its committed or uncertain charge."""
    committed, uncertain = settle_deltas(row)
    return committed + uncertain


class Entry(NamedTuple):
    """One queued history row, as the writer inserts it, and the charge it moves out of its lease.

    A plain tuple, built on the caller's thread for every call (an attrs row costs several µs more). ``values``
    are a :class:`LedgerRow`'s fields in :data:`COLUMNS` order, except ``time``: epoch seconds (float).
    """

    values: tuple[Any, ...]
    lease_id: str | None
    committed: Decimal
    uncertain: Decimal

    @property
    def run_id(self) -> str:
        return str(self.values[2])


def entry_of(row: LedgerRow, lease_id: str | None = None) -> Entry:
    """The entry of a :class:`LedgerRow` (rare paths: reconciliations, tests)."""
    values = tuple(getattr(row, c) for c in COLUMNS)
    committed, uncertain = settle_deltas(row)
    return Entry((*values[:1], row.time.timestamp(), *values[2:]), lease_id, committed, uncertain)


@attrs.frozen
class Heartbeat:
    """The writer's proof of life for its lease: the lease stays valid until ``expires``."""

    lease_id: str
    now: datetime
    expires: datetime


@attrs.frozen
class LeaseAnswer:
    """A lease transaction's answer: the amount granted (None: refused), the run's totals after it, and the
    stale leases of other owners it settled on the way."""

    granted: Decimal | None
    totals: RunTotals
    reconciled: tuple[LeaseRow, ...] = ()


@attrs.frozen
class WriteAnswer:
    """A flush's answer: leases found reconciled by someone else (their owner lost them), and runs' totals."""

    lost: frozenset[str] = frozenset()
    totals: tuple[RunTotals, ...] = ()
