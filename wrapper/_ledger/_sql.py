"""The SQL both ledger stores share: the v2 schema, the v1 -> v2 migration, and every Store method as SQL.

:class:`SqlStore` holds the bookkeeping once; :mod:`._sqlite` and :mod:`._postgres` only say how to open a
transaction, how to lock a run's budget row and how values travel (SQLite keeps money as exact decimal text and
times as ISO-8601 UTC text; PostgreSQL has ``numeric`` and ``timestamptz``). Statements are written with ``?``
marks; PostgreSQL swaps them for ``%s``.

Schema version 2 (``ledger_meta.schema_version``): ``ledger_runs`` (committed / reserved / uncertain USD per run),
``ledger_attempts`` (one row per finished attempt: history) and ``ledger_leases`` (one row per client lease; see
:mod:`._lease`). A run's ``reserved`` is the sum of its open leases' positive ``held``.

Migration from version 1 (done on open, in the same locked transaction that creates the tables): v1 wrote a
``reserved`` attempt row per call in flight; a v1 file that still has some holds calls that crashed (v1 processes
must be stopped before upgrading). Each such row becomes an ``uncertain`` row charging its estimate -- the
conservative settlement v1 never did -- and its run's ``reserved`` moves to ``uncertain``. Nothing else changes.

Lock order in every transaction: the run's budget row first (``BEGIN IMMEDIATE`` / ``FOR UPDATE``), then lease
rows; so lease takes, flushes, closes and reconciliations cannot deadlock each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from .._errors import ConfigError
from ._lease import STALE_MODEL, LeaseRequest, LeaseRow, grant
from ._records import (
    COLUMNS,
    ZERO,
    Entry,
    Heartbeat,
    LeaseAnswer,
    LedgerRow,
    RunTotals,
    WriteAnswer,
    entry_of,
)
from ._schema import LEASE_COLUMNS, MIGRATED, SCHEMA_VERSION, ddl, where_clause

__all__ = ["SCHEMA_VERSION", "Exec", "SqlStore", "ddl", "where_clause"]

Exec = Callable[[str, Sequence[Any]], Any]  # runs one statement, returns a cursor


def _pos(value: Decimal) -> Decimal:
    return value if value > 0 else ZERO


class SqlStore:
    """Every Store method, once, over a dialect's transactions and value codecs (subclasses fill these in)."""

    prefix = ""
    lock_suffix = ""  # " FOR UPDATE" on PostgreSQL; SQLite's BEGIN IMMEDIATE already locks the database

    def tx(self, *, durable: bool = True) -> AbstractContextManager[tuple[Exec, Exec]]:
        """A transaction: yields (execute, executemany)."""
        raise NotImplementedError

    def enc(self, value: object) -> object:
        """A Python value as a statement parameter."""
        return value

    def money(self, raw: object) -> Decimal:
        return raw if isinstance(raw, Decimal) else Decimal(str(raw))

    def when(self, raw: object) -> datetime:
        return raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))

    # ------------------------------------------------------------------ schema
    def create(self, ex: Exec, where: str) -> None:
        """Create the v2 tables, migrate a v1 database, refuse any other version (caller holds the DDL lock)."""
        for statement in ddl(1 if self.lock_suffix else 0, self.prefix):
            ex(statement, ())
        found = ex(f"SELECT value FROM {self.prefix}ledger_meta WHERE key = 'schema_version'", ()).fetchone()[0]
        if found == "1":
            self._migrate_v1(ex)
        elif found != SCHEMA_VERSION:
            raise ConfigError(f"ledger {where} has schema version {found!r}; this library reads "
                              f"{SCHEMA_VERSION!r} (and migrates '1')")

    def _migrate_v1(self, ex: Exec) -> None:
        p = self.prefix
        for run_id, reserved, uncertain in ex(f"SELECT run_id, reserved, uncertain FROM {p}ledger_runs", ()).fetchall():
            if self.money(reserved):
                ex(f"UPDATE {p}ledger_runs SET reserved = ?, uncertain = ? WHERE run_id = ?",
                   (self.enc(ZERO), self.enc(self.money(uncertain) + self.money(reserved)), run_id))
        ex(f"UPDATE {p}ledger_attempts SET outcome = 'uncertain', cost = estimate, error_type = ? "
           "WHERE outcome = 'reserved'", (MIGRATED,))
        ex(f"UPDATE {p}ledger_meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))

    # ------------------------------------------------------------------ helpers
    def _lock_run(self, ex: Exec, run_id: str) -> RunTotals:
        query = (f"SELECT committed, reserved, uncertain FROM {self.prefix}ledger_runs WHERE run_id = ?"
                 f"{self.lock_suffix}")
        found = ex(query, (run_id,)).fetchone()
        if found is None:
            ex(f"INSERT INTO {self.prefix}ledger_runs (run_id) VALUES (?) ON CONFLICT DO NOTHING", (run_id,))
            found = ex(query, (run_id,)).fetchone()
        return RunTotals(run_id, *(self.money(v) for v in found))

    def _save(self, ex: Exec, t: RunTotals) -> None:
        ex(f"UPDATE {self.prefix}ledger_runs SET committed = ?, reserved = ?, uncertain = ? WHERE run_id = ?",
           (self.enc(t.committed), self.enc(t.reserved), self.enc(t.uncertain), t.run_id))

    def _lease(self, ex: Exec, lease_id: str) -> LeaseRow | None:
        found = ex(f"SELECT {', '.join(LEASE_COLUMNS)} FROM {self.prefix}ledger_leases WHERE id = ?",
                   (lease_id,)).fetchone()
        return None if found is None else self._lease_row(found)

    def _lease_row(self, raw: Sequence[Any]) -> LeaseRow:
        d = dict(zip(LEASE_COLUMNS, raw, strict=True))
        for name in ("granted", "held", "returned", "stale_charge"):
            d[name] = self.money(d[name])
        for name in ("opened", "heartbeat", "expires"):
            d[name] = self.when(d[name])
        d["closed"] = None if d["closed"] is None else self.when(d["closed"])
        return LeaseRow(**d)

    def _put_lease(self, ex: Exec, lease: LeaseRow, *, new: bool) -> None:
        values = [self.enc(getattr(lease, c)) for c in LEASE_COLUMNS]
        if new:
            ex(f"INSERT INTO {self.prefix}ledger_leases ({', '.join(LEASE_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(LEASE_COLUMNS))})", values)
        else:
            ex(f"UPDATE {self.prefix}ledger_leases SET {', '.join(f'{c} = ?' for c in LEASE_COLUMNS[1:])} "
               "WHERE id = ?", [*values[1:], lease.id])

    def row_params(self, rows: Iterable[tuple[Any, ...]]) -> list[Sequence[Any]]:
        """Entry values (time as epoch seconds) as statement parameters: the writer's hot loop."""
        out: list[Sequence[Any]] = []
        for values in rows:
            params = list(values)
            params[1] = datetime.fromtimestamp(params[1], UTC)
            out.append(params)
        return out

    def _insert_rows(self, exm: Exec, rows: Iterable[tuple[Any, ...]]) -> None:
        params = self.row_params(rows)
        if params:
            exm(f"INSERT INTO {self.prefix}ledger_attempts ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})", params)

    def _reconcile_run(self, ex: Exec, exm: Exec, t: RunTotals, now: datetime) -> tuple[RunTotals, list[LeaseRow]]:
        """Settle the run's expired leases as uncertain charges (caller holds the run lock)."""
        raw = ex(f"SELECT {', '.join(LEASE_COLUMNS)} FROM {self.prefix}ledger_leases "
                 "WHERE run_id = ? AND state = 'open' AND expires < ?", (t.run_id, self.enc(now))).fetchall()
        done, rows = [], []
        for lease in map(self._lease_row, raw):
            charge = _pos(lease.held)
            t = RunTotals(t.run_id, t.committed, t.reserved - charge, t.uncertain + charge)
            lease = attrs.evolve(lease, state="stale", held=ZERO, stale_charge=charge, closed=now)
            self._put_lease(ex, lease, new=False)
            rows.append(entry_of(LedgerRow(id=f"stale-{lease.id}", time=now, run_id=t.run_id, call_id=lease.id,
                                           model=STALE_MODEL, outcome="uncertain", estimate=charge, cost=charge,
                                           error_type=f"stale_lease owner={lease.owner}")).values)
            done.append(lease)
        self._insert_rows(exm, rows)
        return t, done

    # ------------------------------------------------------------------ Store
    def take_lease(self, req: LeaseRequest) -> LeaseAnswer:
        with self.tx() as (ex, exm):
            t = self._lock_run(ex, req.run_id)
            t, stale = self._reconcile_run(ex, exm, t, req.now)
            lease = self._lease(ex, req.lease_id)
            old = lease.held if lease is not None else ZERO
            # a lease in debt (charges beyond it, already counted in `used`) repays the debt from the grant first
            need = _pos(old + req.need)
            top = grant(t.used - _pos(old), need, req.limit, req.extra, req.tail)
            amount = None if top is None else req.need + top - need
            if amount is None:
                if lease is not None and req.give_back > 0:
                    self._put_lease(ex, attrs.evolve(lease, held=old - req.give_back,
                                                     returned=lease.returned + req.give_back), new=False)
                    t = attrs.evolve(t, reserved=t.reserved + _pos(old - req.give_back) - _pos(old))
                self._save(ex, t)
                return LeaseAnswer(None, t, tuple(stale))
            if lease is None:
                lease = LeaseRow(id=req.lease_id, run_id=req.run_id, owner=req.owner, state="open", granted=amount,
                                 held=amount, returned=ZERO, stale_charge=ZERO, opened=req.now, heartbeat=req.now,
                                 expires=req.expires)
                self._put_lease(ex, lease, new=True)
            else:
                self._put_lease(ex, attrs.evolve(lease, granted=lease.granted + amount, held=old + amount,
                                                 heartbeat=req.now, expires=req.expires), new=False)
            t = attrs.evolve(t, reserved=t.reserved + _pos(old + amount) - _pos(old))
            self._save(ex, t)
            return LeaseAnswer(amount, t, tuple(stale))

    def write(self, entries: Sequence[Entry], heartbeat: Heartbeat | None) -> WriteAnswer:
        per_run: dict[str, list[Entry]] = {}
        for e in entries:
            per_run.setdefault(e.values[2], []).append(e)
        lost: set[str] = set()
        totals: list[RunTotals] = []
        with self.tx(durable=False) as (ex, exm):
            for run_id in sorted(per_run):
                t = self._lock_run(ex, run_id)
                charges: dict[str, Decimal] = {}
                committed_sum = uncertain_sum = ZERO
                for _, lease_id, committed, uncertain in per_run[run_id]:
                    if committed or uncertain:
                        committed_sum += committed
                        uncertain_sum += uncertain
                        if lease_id is not None:
                            charges[lease_id] = charges.get(lease_id, ZERO) + committed + uncertain
                t = RunTotals(run_id, t.committed + committed_sum, t.reserved, t.uncertain + uncertain_sum)
                for lease_id, charge in charges.items():
                    lease = self._lease(ex, lease_id)
                    if lease is None or lease.state != "open":
                        lost.add(lease_id)  # reconciled as stale meanwhile: the charge adds to used
                        continue
                    self._put_lease(ex, attrs.evolve(lease, held=lease.held - charge), new=False)
                    t = attrs.evolve(t, reserved=t.reserved + _pos(lease.held - charge) - _pos(lease.held))
                self._insert_rows(exm, (e.values for e in per_run[run_id]))
                self._save(ex, t)
                totals.append(t)
            if heartbeat is not None:
                lease = self._lease(ex, heartbeat.lease_id)
                if lease is not None and lease.state != "open":
                    lost.add(lease.id)
                elif lease is not None:
                    ex(f"UPDATE {self.prefix}ledger_leases SET heartbeat = ?, expires = ? WHERE id = ?",
                       (self.enc(heartbeat.now), self.enc(heartbeat.expires), lease.id))
        return WriteAnswer(frozenset(lost), tuple(totals))

    def end_lease(self, lease_id: str, run_id: str, keep: Decimal, now: datetime) -> RunTotals:
        with self.tx() as (ex, _):
            t = self._lock_run(ex, run_id)
            lease = self._lease(ex, lease_id)
            if lease is None or lease.state != "open":
                return t
            give = _pos(lease.held - keep)
            held = lease.held - give
            closed = keep <= 0
            self._put_lease(ex, attrs.evolve(lease, held=held, returned=lease.returned + give,
                                             state="closed" if closed else "open", closed=now if closed else None),
                            new=False)
            t = attrs.evolve(t, reserved=t.reserved + _pos(held) - _pos(lease.held))
            self._save(ex, t)
            return t

    def reconcile(self, run_id: str | None, now: datetime) -> list[LeaseRow]:
        with self.tx() as (ex, _):
            runs = [r for (r,) in ex(f"SELECT DISTINCT run_id FROM {self.prefix}ledger_leases "
                                     "WHERE state = 'open' AND expires < ?", (self.enc(now),)).fetchall()]
        done: list[LeaseRow] = []
        for run in sorted(r for r in runs if run_id is None or r == run_id):
            with self.tx() as (ex, exm):
                t, stale = self._reconcile_run(ex, exm, self._lock_run(ex, run), now)
                self._save(ex, t)
            done += stale
        return done

    def leases(self, run_id: str | None = None) -> list[LeaseRow]:
        where, params = ("WHERE run_id = ? ", [run_id]) if run_id is not None else ("", [])
        with self.tx(durable=False) as (ex, _):
            raw = ex(f"SELECT {', '.join(LEASE_COLUMNS)} FROM {self.prefix}ledger_leases {where}"
                     "ORDER BY opened, id", params).fetchall()
        return [self._lease_row(r) for r in raw]

    def totals(self, run_id: str) -> RunTotals:
        with self.tx(durable=False) as (ex, _):
            found = ex(f"SELECT committed, reserved, uncertain FROM {self.prefix}ledger_runs WHERE run_id = ?",
                       (run_id,)).fetchone()
        return RunTotals(run_id, *(self.money(v) for v in found)) if found else RunTotals(run_id)

    def rows(self, *, run_id: str | None = None, since: datetime | None = None,
             until: datetime | None = None) -> list[LedgerRow]:
        where, params = where_clause(run_id, since, until)
        with self.tx(durable=False) as (ex, _):
            raw = ex(f"SELECT {', '.join(COLUMNS)} FROM {self.prefix}ledger_attempts{where} ORDER BY time, id",
                     [self.enc(p) for p in params]).fetchall()
        return list(self._attempt_rows(raw))

    def _attempt_rows(self, raw: Iterable[Sequence[Any]]) -> Iterator[LedgerRow]:
        for values in raw:
            d = dict(zip(COLUMNS, values, strict=True))
            d["time"] = self.when(d["time"])
            d["estimate"] = None if d["estimate"] is None else self.money(d["estimate"])
            d["cost"] = None if d["cost"] is None else self.money(d["cost"])
            yield LedgerRow(**d)
