"""Budget leases: how much of a shared run's budget one client takes per transaction, and the records of a lease.

A client (one :class:`~wrapper._ledger._ledger.Ledger`) takes budget from the shared run in *leases*: one store
transaction moves an amount into the run's ``reserved`` total and onto the client's lease row; calls then reserve
their worst case from the lease in memory, with no I/O. A settled call's charge moves from the lease to
``committed`` / ``uncertain`` (queued to the writer), so flushing history never changes what the run counts as
used; only taking a lease, returning its rest and overruns do. The unused rest goes back at ``close()``.

Sizing rule (:func:`grant`). When a call's bound ``b`` does not fit in the lease's free part ``f``, the client asks
for ``need = b - f`` and the store grants, in the same transaction that checks the limit::

    grant = need + min(calls x typical bound, share x limit, tail x (left - need))

* ``calls`` (64) x the running average of call bounds: enough for dozens of calls per transaction;
* ``share`` (2%) of the limit: a killed process ties up at most its lease, so at most ~2% of the budget;
* ``tail`` (1/8) of what is left after this call: near the end of a budget the extra shrinks towards zero, so
  the lease becomes exactly what one call needs. With N clients sharing a run, each idle lease holds at most
  1/8 of what was left when it was taken, and a refused client returns its free part in the refusing
  transaction; so the budget stranded in other clients' leases at the end is a small fraction of one call per
  client, and admission stays close to what a perfect oracle would allow (see tests/unit/test_lease.py).

Without a budget (``limit is None``) there are no leases at all.

Stale leases: the writer thread refreshes its lease's heartbeat (``expires = now + ttl``) every ``heartbeat_s``.
A lease whose owner stopped heartbeating is *stale* once expired: the next client taking a lease in that run (or
``together-wrapper costs --reconcile``) settles it conservatively -- its whole held amount becomes an
``uncertain`` charge (a ``(stale lease)`` row) -- because calls reserved from it in memory may have been sent.
Money is never lost and never double-freed; an owner that was only slow finds its lease gone and takes a new one.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

import attrs

__all__ = ["LEASE_STATES", "Lease", "LeasePolicy", "LeaseRow", "STALE_MODEL", "grant", "new_owner"]

ZERO = Decimal(0)
GRAIN = Decimal("1e-12")  # lease extras are whole pico-dollars
LEASE_STATES = ("open", "closed", "stale")
STALE_MODEL = "(stale lease)"  # the model column of the uncertain row a reconciled lease leaves in history


@attrs.frozen
class LeasePolicy:
    """How leases are sized and kept alive (see the module docstring for the rule).

    Attributes:
        calls: the lease's extra, in typical call bounds.
        share: the cap of the extra, as a share of the run's limit.
        tail: the cap of the extra, as a share of what is left after the call that asked.
        ttl_s: a lease whose owner has not heartbeaten for this long is stale (keep it above clock skew).
        heartbeat_s: how often the writer refreshes a live lease.
    """

    calls: int = 64
    share: Decimal = Decimal("0.02")
    tail: Decimal = Decimal("0.125")
    ttl_s: float = 60.0
    heartbeat_s: float = 10.0


def grant(used: Decimal, need: Decimal, limit: Decimal, extra: Decimal, tail: Decimal) -> Decimal | None:
    """The amount a lease transaction grants, or None when even ``need`` does not fit under ``limit``.

    Args:
        used: the run's committed + reserved + uncertain, read under the transaction's lock.
        need: what the asking call lacks (its bound minus the lease's free part).
        extra: the policy's extra before the tail cap (calls x bound, capped by share x limit).
        tail: the share of what is left after ``need`` that the extra may take.
    """
    left = limit - used - need
    if left < 0:
        return None
    # whole pico-dollars, rounded down: sums of grants stay short, exact decimals in every store
    return need + max(ZERO, min(extra, left * tail)).quantize(GRAIN, rounding=ROUND_DOWN)


def new_owner() -> str:
    """A lease owner name that says where the client runs: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@attrs.define(eq=False)
class Lease:
    """This client's lease, in memory (guarded by the ledger's lock).

    ``held`` mirrors the lease row's ``held`` once the writer has flushed (all updates are additions, so the order
    of flushes does not matter); ``inflight`` is the sum of the bounds of calls reserved from it and not settled.
    """

    id: str
    held: Decimal = ZERO
    inflight: Decimal = ZERO
    taken: bool = False  # the store has a row for it (a grant happened)
    lost: bool = False  # reconciled as stale by another client while this one was alive (or too slow)

    @property
    def free(self) -> Decimal:
        """What new calls may still reserve (negative when an overrun left a debt)."""
        return self.held - self.inflight


@attrs.frozen
class LeaseRow:
    """A lease as the store has it, for reports.

    Attributes:
        granted: every amount ever granted to it; held: what it still holds (counted as reserved);
        returned: what its owner gave back; stale_charge: what a reconciliation charged as uncertain.
        expires: when it becomes stale without a heartbeat; closed: when it was closed or reconciled.
    """

    id: str
    run_id: str
    owner: str
    state: str = attrs.field(validator=attrs.validators.in_(LEASE_STATES))
    granted: Decimal
    held: Decimal
    returned: Decimal
    stale_charge: Decimal
    opened: datetime
    heartbeat: datetime
    expires: datetime
    closed: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Open, but its owner has not heartbeaten in time."""
        return self.state == "open" and self.expires < now


@attrs.frozen
class LeaseRequest:
    """One lease transaction: top up ``lease_id`` by ``need`` (+ extra), or give ``give_back`` back if refused."""

    run_id: str
    lease_id: str
    owner: str
    need: Decimal
    extra: Decimal
    tail: Decimal
    limit: Decimal
    give_back: Decimal
    now: datetime
    expires: datetime
