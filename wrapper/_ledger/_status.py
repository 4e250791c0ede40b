"""The ledger's read side: :class:`BudgetStatus`, and the ledger methods for totals, rows, leases and reconciling.

:class:`Reading` is a base class of :class:`~wrapper._ledger._ledger.Ledger`, kept apart for size; its methods are
the ledger's, run on the ledger's state (declared below for the type checker, set by ``Ledger.__init__``). None of
them is on a call's path: they read the store, for budget checks at a glance and for reports.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from ._budget import Budget
from ._lease import LeaseRow
from ._records import LedgerRow, RunTotals
from ._store import Store

__all__ = ["BudgetStatus", "Reading"]


@attrs.frozen
class BudgetStatus:
    """A run's budget at a glance (USD); ``limit``/``remaining`` are None without a budget."""

    run_id: str
    limit: Decimal | None
    committed: Decimal
    reserved: Decimal
    uncertain: Decimal
    remaining: Decimal | None
    leased: Decimal = Decimal(0)
    """This client's lease room: taken from the run, not yet held by a call (not in ``reserved``)."""
    open_leases: int = 0
    stale_leases: int = 0
    stale: Decimal = Decimal(0)
    """USD charged as uncertain by settling stale leases of dead clients (part of ``uncertain``)."""


class Reading:
    """The ledger's reading methods: the run's totals and budget, the store's rows and leases, reconciling."""

    limit: Decimal | None
    run_id: str
    _store: Store
    _budget: Budget

    def totals(self) -> RunTotals:
        """This run's totals (shared with other processes naming the same run), after flushing this client's rows.

        ``reserved`` is what calls hold: this client's calls in flight plus other clients' leases; this client's
        own unused lease is not counted (it is still this client's to spend, and goes back at :meth:`close`).
        """
        return self._budget.view()

    def spent(self) -> Decimal:
        """USD committed plus uncertain charges in this run."""
        return self.totals().spent

    def remaining(self) -> Decimal | None:
        """USD left for new reservations (limit - committed - reserved - uncertain), or None without a budget."""
        return None if self.limit is None else self.limit - self.totals().used

    def summary(self) -> BudgetStatus:
        """The run's budget at a glance, with its leases (reads the store)."""
        t = self.totals()
        left = None if self.limit is None else self.limit - t.used
        leases = self._store.leases(self.run_id)
        return BudgetStatus(self.run_id, self.limit, t.committed, t.reserved, t.uncertain, left,
                            leased=self._budget.lease_free(),
                            open_leases=sum(1 for lease in leases if lease.state == "open"),
                            stale_leases=sum(1 for lease in leases if lease.state == "stale"),
                            stale=sum((lease.stale_charge for lease in leases), Decimal(0)))

    def rows(self, *, run_id: str | None = None, since: datetime | None = None,
             until: datetime | None = None) -> list[LedgerRow]:
        """Rows of the store (every run unless ``run_id``), ordered by time, after a flush; for reports."""
        self._budget.writer.flush()
        return self._store.rows(run_id=run_id, since=since, until=until)

    def leases(self, *, run_id: str | None = None) -> list[LeaseRow]:
        """Leases of the store (every run unless ``run_id``), oldest first; for reports."""
        return self._store.leases(run_id)

    def reconcile(self) -> list[LeaseRow]:
        """Settle every expired lease in the store now (their held amount becomes an uncertain charge)."""
        return self._budget.reconcile()
