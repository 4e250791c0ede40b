"""The ledger's SQL schema, version 2, for SQLite (dialect 0) and PostgreSQL (dialect 1), and a WHERE builder.

See :mod:`wrapper._ledger._sql` for the tables' meaning and the migration from version 1.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._lease import LeaseRow
from ._records import COLUMNS

__all__ = ["LEASE_COLUMNS", "MIGRATED", "SCHEMA_VERSION", "ddl", "where_clause"]

SCHEMA_VERSION = "2"
_ATTEMPT_TYPES = {  # column -> (sqlite type, postgres type)
    "id": ("TEXT PRIMARY KEY", "text PRIMARY KEY"), "time": ("TEXT NOT NULL", "timestamptz NOT NULL"),
    "run_id": ("TEXT NOT NULL", "text NOT NULL"), "call_id": ("TEXT NOT NULL", "text NOT NULL"),
    "model": ("TEXT NOT NULL", "text NOT NULL"), "outcome": ("TEXT NOT NULL", "text NOT NULL"),
    "attempt": ("INTEGER NOT NULL", "integer NOT NULL"), "request_id": ("TEXT", "text"),
    "prompt_tokens": ("INTEGER", "integer"), "completion_tokens": ("INTEGER", "integer"),
    "estimate": ("TEXT", "numeric"), "cost": ("TEXT", "numeric"), "latency_ms": ("REAL", "double precision"),
    "status": ("INTEGER", "integer"), "error_type": ("TEXT", "text"),
}
assert tuple(_ATTEMPT_TYPES) == COLUMNS
LEASE_COLUMNS: tuple[str, ...] = tuple(f.name for f in attrs.fields(LeaseRow))
MIGRATED = "interrupted (v1 reservation, settled by migration)"



def ddl(dialect: int, prefix: str) -> list[str]:
    """The v2 tables (created if missing); the version row is written only into a new database."""
    money = ("TEXT NOT NULL DEFAULT '0'", "numeric NOT NULL DEFAULT 0")[dialect]
    when = ("TEXT", "timestamptz")[dialect]
    cols = ", ".join(f"{name} {types[dialect]}" for name, types in _ATTEMPT_TYPES.items())
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_runs (run_id TEXT PRIMARY KEY, committed {money}, "
        f"reserved {money}, uncertain {money})",
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_attempts ({cols})",
        f"CREATE INDEX IF NOT EXISTS ledger_attempts_run_time ON {prefix}ledger_attempts (run_id, time)",
        f"CREATE INDEX IF NOT EXISTS ledger_attempts_time ON {prefix}ledger_attempts (time)",
        f"CREATE TABLE IF NOT EXISTS {prefix}ledger_leases (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, "
        f"owner TEXT NOT NULL, state TEXT NOT NULL, granted {money}, held {money}, returned {money}, "
        f"stale_charge {money}, opened {when} NOT NULL, heartbeat {when} NOT NULL, expires {when} NOT NULL, "
        f"closed {when})",
        f"CREATE INDEX IF NOT EXISTS ledger_leases_run_state ON {prefix}ledger_leases (run_id, state)",
        f"INSERT INTO {prefix}ledger_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') "
        "ON CONFLICT (key) DO NOTHING",
    ]


def where_clause(run_id: str | None, since: Any, until: Any, mark: str = "?") -> tuple[str, list[Any]]:
    """Return the WHERE clause and parameters that select rows of one run and/or a time window."""
    clauses, params = [], []
    for clause, value in (("run_id = ", run_id), ("time >= ", since), ("time < ", until)):
        if value is not None:
            clauses.append(clause + mark)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
