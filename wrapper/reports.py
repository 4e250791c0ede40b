"""Reports from the cost ledger, for Python users: totals, cumulative cost, CSV/JSON export and the dashboard.

    from wrapper import Client, reports

    with Client() as client:
        ...
        rows = client.ledger.rows()                       # one row per attempt of this client's run
    print(reports.to_csv(reports.totals(rows, by="model")))
    reports.write_dashboard("report.html", rows, budget_limit=client.settings.max_estimated_cost)

    ledger = reports.open_ledger()                        # the ledger TOGETHER_LEDGER_URL names, no API key needed
    print(reports.totals(ledger.rows(), by="day"))
    print(reports.lease_totals(ledger.leases(), datetime.now(UTC)))   # budget leases: open, expired, stale
    ledger.reconcile()                                    # settle expired leases of dead clients now
"""

from __future__ import annotations

from ._ledger._ledger import Ledger
from ._ledger._pricing import batch_model
from ._observe._dashboard import render_dashboard, write_dashboard
from ._observe._reports import (
    CumulativePoint,
    GroupBy,
    LeaseTotal,
    Total,
    cumulative,
    grand_total,
    lease_totals,
    to_csv,
    to_json,
    totals,
)
from ._settings import Settings

__all__ = [
    "CumulativePoint",
    "GroupBy",
    "LeaseTotal",
    "Total",
    "batch_model",
    "cumulative",
    "grand_total",
    "lease_totals",
    "open_ledger",
    "render_dashboard",
    "to_csv",
    "to_json",
    "totals",
    "write_dashboard",
]


def open_ledger(settings: Settings | None = None, *, run_id: str | None = None) -> Ledger:
    """Open the ledger the settings name (``TOGETHER_LEDGER_URL``; default the SQLite file) for reading.

    Args:
        settings: default ``Settings.from_env()``; no API key is needed.
        run_id: the run whose budget ``summary()`` reports; ``rows()`` reads every run unless told one.
    """
    return Ledger.from_settings(settings or Settings.from_env(), run_id=run_id)
