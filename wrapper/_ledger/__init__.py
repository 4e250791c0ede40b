"""_ledger: prices, estimates and bounds, budget leases, the store and its write-behind writer.

The pipeline imports the ledger's call API from here: ``Ledger``, ``Estimate``, ``Reservation``.
"""

from ._estimator import Estimate
from ._ledger import Ledger
from ._settle import Reservation
from ._status import BudgetStatus

__all__ = ["BudgetStatus", "Estimate", "Ledger", "Reservation"]
