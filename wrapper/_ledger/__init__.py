"""_ledger: prices, estimates and bounds, budget leases, the store and its write-behind writer.

The pipeline imports the ledger's call API from here: ``Ledger``, ``Estimate``, ``Reservation``.
"""

from ._estimator import Estimate
from ._ledger import BudgetStatus, Ledger, Reservation

__all__ = ["BudgetStatus", "Estimate", "Ledger", "Reservation"]
