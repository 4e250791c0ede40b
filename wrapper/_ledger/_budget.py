"""One client's side of a shared run budget: its lease in memory, lease transactions, and the writer.

:class:`Budget` is the ledger's engine below the call API (see :mod:`._lease` for the sizing rule and stale
leases, :mod:`._writer` for write-behind):

* :meth:`try_hold` reserves a call's worst case from the lease in memory -- a lock held for a few additions, never
  across I/O -- or says a lease transaction is needed (None).
* :meth:`hold` does that transaction when needed (one store transaction per lease, serialised within the
  client by an I/O lock, so a burst of callers takes one lease, not fifty).
* :meth:`settle` / :meth:`charge` move a call's charge out of the lease in memory and queue its history row.
* :meth:`view` reads the store and replaces this client's lease by its calls in flight, so reports show what
  calls hold, not what a lease happens to have in reserve; :meth:`close` flushes and returns the rest.

Without a budget the ledger never calls :meth:`hold`: rows are only queued (:meth:`settle` with no lease).
"""

from __future__ import annotations

import atexit
import threading
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .._errors import BudgetExceededError, ConfigError
from .._observe._log import get_logger
from ._alerts import BudgetAlerts
from ._lease import GRAIN, STALE_MODEL, Lease, LeasePolicy, LeaseRequest, LeaseRow, new_owner
from ._records import ZERO, Entry, Heartbeat, RunTotals, WriteAnswer
from ._store import Store
from ._writer import FLUSH_INTERVAL_S, Writer

__all__ = ["Budget"]

log = get_logger("ledger")


def _pos(value: Decimal) -> Decimal:
    return value if value > 0 else ZERO


def _closer(ref: weakref.ReferenceType[Budget]) -> Callable[[], None]:
    def close() -> None:
        budget = ref()
        if budget is not None:
            budget.close()

    return close


class Budget:
    """A client's leases on one run's budget, and its history writer. Thread-safe."""

    def __init__(self, store: Store, *, run_id: str, limit: Decimal | None, alerts: BudgetAlerts,
                 clock: Callable[[], float], policy: LeasePolicy | None = None,
                 flush_interval_s: float | None = FLUSH_INTERVAL_S) -> None:
        self._store = store
        self.run_id, self.limit, self.alerts, self._clock = run_id, limit, alerts, clock
        self.policy = policy or LeasePolicy()
        self.owner = new_owner()
        self._lock = threading.Lock()  # in-memory state only; never held across I/O
        self._io_lock = threading.Lock()  # one lease transaction at a time per client
        self._lease: Lease | None = None
        self._leases: list[Lease] = []  # every lease this client took (a lost one may still have calls in flight)
        self._used_seen = ZERO  # the run's `used` as the store last said
        self._avg: Decimal | None = None  # running average of call bounds (lease sizing)
        self._next_beat = float("-inf")
        self.writer = Writer(store.write, heartbeat=self._beat, on_answer=self._answer, interval_s=flush_interval_s)
        self._closed = False
        self._at_exit = _closer(weakref.ref(self))  # a process exiting without close() still flushes
        atexit.register(self._at_exit)

    # ------------------------------------------------------------ calls
    def try_hold(self, amount: Decimal) -> Lease | None:
        """Reserve ``amount`` from the current lease in memory; None when a lease transaction is needed."""
        with self._lock:
            lease = self._lease
            if lease is None or lease.lost or lease.held - lease.inflight < amount:
                return None
            lease.inflight += amount
            used = self._used_seen - lease.held + lease.inflight  # held >= inflight > 0 here
        self.alerts.used_changed(used)
        return lease

    def hold(self, amount: Decimal) -> Lease:
        """Reserve ``amount``, taking or topping up the lease in one store transaction when it lacks room.

        Raises:
            BudgetExceededError: even the call's shortfall does not fit in what is left of the run's budget.
            ConfigError: the store failed.
        """
        lease = self.try_hold(amount)
        while lease is None:
            with self._io_lock:
                lease = self.try_hold(amount)
                if lease is None:
                    self._take(amount)
                    lease = self.try_hold(amount)
        return lease

    def settle(self, lease: Lease | None, amount: Decimal | None, charge: Decimal, entry: Entry) -> None:
        """End a call's hold: ``charge`` leaves the lease (the rest is free again); queue its row. No I/O."""
        if lease is not None:
            with self._lock:
                lease.inflight -= amount or ZERO
                lease.held -= charge
        self.writer.put(entry)

    def charge(self, lease: Lease | None, charge: Decimal, entry: Entry) -> bool:
        """Charge an attempt without ending its call's hold; queue its row. No I/O.

        Returns:
            Whether the run is still within its limit as far as this client knows without asking the store.
        """
        self.writer.put(entry)
        if lease is None or self.limit is None:
            return True
        with self._lock:
            lease.held -= charge
            used = self._used_seen - _pos(lease.held) + lease.inflight
        self.alerts.used_changed(used)
        return used <= self.limit

    # ------------------------------------------------------------ lease transactions
    def _take(self, amount: Decimal) -> None:
        assert self.limit is not None
        with self._lock:
            lease = self._lease
            if lease is None or lease.lost:
                lease = self._lease = Lease(id=uuid.uuid4().hex)
                self._leases.append(lease)
            free = lease.held - lease.inflight
            if free >= amount:
                return  # another thread settled enough meanwhile
            give_back = _pos(free)
            lease.inflight += give_back  # set aside: nobody reserves it while the transaction decides its fate
            self._avg = amount if self._avg is None else (self._avg * 7 + amount) / 8
            self._avg = self._avg.quantize(GRAIN)
            extra = min(self.policy.calls * self._avg, self.policy.share * self.limit)
        now = self._now()
        request = LeaseRequest(run_id=self.run_id, lease_id=lease.id, owner=self.owner, need=amount - free,
                               extra=extra, tail=self.policy.tail, limit=self.limit, give_back=give_back, now=now,
                               expires=now + timedelta(seconds=self.policy.ttl_s))
        try:
            answer = self._store.take_lease(request)
        except Exception as exc:
            with self._lock:
                lease.inflight -= give_back
            raise ConfigError(f"the ledger store failed while taking a budget lease ({type(exc).__name__}: {exc}); "
                              "check TOGETHER_LEDGER_URL") from exc
        with self._lock:
            lease.inflight -= give_back
            if answer.granted is None:
                lease.held -= give_back
            else:
                lease.held += answer.granted
                lease.taken = True
            self._used_seen = answer.totals.used
        self._announce(answer.reconciled)
        if answer.granted is None:
            t = self.view()
            raise BudgetExceededError(estimate=amount, spent=t.spent, reserved=t.reserved, limit=self.limit,
                                      run_id=self.run_id)
        log.bind(run_id=self.run_id, lease_id=lease.id, granted_usd=str(answer.granted)).debug("budget lease taken")

    def _announce(self, stale: tuple[LeaseRow, ...] | list[LeaseRow]) -> None:
        for lease in stale:
            self.alerts.uncertain(STALE_MODEL, lease.stale_charge, None,
                                  f"stale lease {lease.id} of {lease.owner} settled")

    def reconcile(self) -> list[LeaseRow]:
        """Settle every expired lease of every run now (what ``costs --reconcile`` does)."""
        done = self._store.reconcile(None, self._now())
        self._announce([s for s in done if s.run_id == self.run_id])
        return done

    # ------------------------------------------------------------ writer callbacks
    def _beat(self) -> Heartbeat | None:
        lease = self._lease
        now = self._clock()
        if lease is None or not lease.taken or lease.lost or now < self._next_beat:
            return None
        self._next_beat = now + self.policy.heartbeat_s
        return Heartbeat(lease.id, self._at(now), self._at(now + self.policy.ttl_s))

    def _answer(self, answer: WriteAnswer) -> None:
        lost = []
        with self._lock:
            for lease in self._leases:
                if lease.id in answer.lost and not lease.lost:
                    lease.lost = True
                    lost.append(lease.id)
            for t in answer.totals:
                if t.run_id == self.run_id:
                    self._used_seen = t.used
        for lease_id in lost:
            log.bind(run_id=self.run_id, lease_id=lease_id).warning(
                "this client's budget lease was settled as stale by another client (no heartbeat in time); "
                "its calls stay charged as uncertain, and the next call takes a new lease")

    # ------------------------------------------------------------ reading and closing
    def view(self) -> RunTotals:
        """The run's totals from the store after a flush, with this client's leases replaced by its calls in
        flight (what ``reserved`` means to a reader: money held by calls, here and in other clients' leases)."""
        self.writer.flush()
        t = self._store.totals(self.run_id)
        with self._lock:
            mine = sum((lease.inflight - (ZERO if lease.lost else _pos(lease.held)) for lease in self._leases), ZERO)
        return RunTotals(t.run_id, t.committed, t.reserved + mine, t.uncertain)

    def lease_free(self) -> Decimal:
        """What this client's current lease can still admit without a transaction."""
        with self._lock:
            lease = self._lease
            return ZERO if lease is None or lease.lost else _pos(lease.held - lease.inflight)

    def close(self) -> None:
        """Flush the writer, then give every lease's unused rest back (calls still in flight keep theirs)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._at_exit)
        if not self.writer.close():
            log.bind(rows=self.writer.pending).error("ledger rows could not be written at close and are lost; "
                                                     "their charges stay counted in this client's lease")
            return  # the lease must then keep what it holds: it expires and is settled as stale
        for lease in self._leases:
            with self._lock:
                keep, live = _pos(lease.inflight), lease.taken and not lease.lost
            if live:
                try:
                    self._store.end_lease(lease.id, self.run_id, keep, self._now())
                except Exception as exc:
                    log.opt(exception=exc).bind(lease_id=lease.id).error(
                        "could not return the rest of a budget lease; it is settled as stale after it expires")

    def _now(self) -> datetime:
        return self._at(self._clock())

    @staticmethod
    def _at(epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, UTC)
