"""What a batch run did, the exit code it leads to, and where the runner reports progress.

:class:`BatchStats` is filled by :class:`~wrapper.cli._batch.BatchRunner` and read by the progress bar and the
summary (``_render``); :func:`exit_code` maps a run's stop reason to the command's exit code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import attrs

__all__ = ["BatchStats", "ProgressSink", "exit_code"]

ZERO = Decimal(0)
EXIT_CODES = {"interrupted": 130, "terminated": 143, "budget": 4, "credit": 5, "disk": 6, "breaker": 1, "fatal": 1,
              "refused": 3}


@attrs.define
class BatchStats:
    """What one run did; ``stop_reason`` is None when every planned row was tried."""

    planned: int = 0
    started: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    cost: Decimal = ZERO
    unpriced: int = 0
    elapsed: float = 0.0
    stop_reason: str | None = None
    stop_detail: str = ""

    @property
    def not_done(self) -> int:
        """Planned rows without a result or an error line (not started, stopped or cancelled)."""
        return self.planned - self.done - self.failed


def exit_code(stats: BatchStats) -> int:
    """0 all done, 1 failures (or a breaker/fatal stop), 3 a dearer fallback not confirmed, 4 budget stop, 5 out
    of credit (Together's ``credit_limit``), 6 a result could not be written (disk full), 130 SIGINT, 143 SIGTERM."""
    if stats.stop_reason is not None:
        return EXIT_CODES[stats.stop_reason]
    return 1 if stats.failed else 0


class ProgressSink(Protocol):
    """Where the runner reports progress (a rich bar in the terminal, nothing in tests)."""

    def update(self, stats: BatchStats) -> None:
        """Called after each row finishes."""

    def note(self, message: str) -> None:
        """A one-line message for the person watching (stop requested, breaker waits)."""
