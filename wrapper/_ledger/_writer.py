"""The write-behind writer: a background thread that batches the ledger's history rows into store transactions.

Calls never wait for the store: settling a call appends one entry to a deque (atomic, no lock). The thread wakes
every ``interval_s`` (100 ms), takes everything queued and writes it in one transaction, together with its
lease's heartbeat when one is due. ``flush()`` does the same at once in the calling thread (``close()``, reports,
a lease transaction's refusal), under the same lock, so rows reach the store in the order they were queued.

A failed write (database down, lock timeout) puts the batch back at the front of the queue and is retried on the
next tick; the failure is logged once per streak. Nothing is dropped while the process lives.

What a SIGKILL loses: the rows queued since the last flush -- at most ``interval_s`` of per-attempt history (plus
the duration of a flush in progress). It never loses budget safety: those calls' charges are still held in the
killed client's lease, which the store counts as used until the lease is settled as stale (an uncertain charge).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from .._observe._log import get_logger
from ._records import Entry, Heartbeat, WriteAnswer

__all__ = ["FLUSH_INTERVAL_S", "Writer"]

FLUSH_INTERVAL_S = 0.1
log = get_logger("ledger")


class Writer:
    """Batches entries to ``write`` from a daemon thread; thread-safe."""

    def __init__(self, write: Callable[[list[Entry], Heartbeat | None], WriteAnswer], *,
                 heartbeat: Callable[[], Heartbeat | None], on_answer: Callable[[WriteAnswer], None],
                 interval_s: float | None = FLUSH_INTERVAL_S, name: str = "wrapper-ledger-writer") -> None:
        """Start the writer.

        Args:
            write: one store transaction for a batch (``Store.write``).
            heartbeat: returns the heartbeat to send with the next batch, or None when none is due.
            on_answer: receives each transaction's answer (leases lost, run totals).
            interval_s: flush period; None starts no thread (tests call :meth:`flush` themselves).
        """
        self._write, self._heartbeat, self._on_answer = write, heartbeat, on_answer
        self._queue: deque[Entry] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._failing = False
        self.interval_s = interval_s
        self._thread: threading.Thread | None = None
        if interval_s is not None:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def put(self, entry: Entry) -> None:
        """Queue one entry (never blocks, never does I/O)."""
        self._queue.append(entry)

    @property
    def pending(self) -> int:
        """Entries queued and not yet written."""
        return len(self._queue)

    def flush(self) -> bool:
        """Write everything queued now, in this thread. Returns False if the store failed (the batch is kept)."""
        with self._lock:
            batch: list[Entry] = []
            while self._queue:
                batch.append(self._queue.popleft())
            beat = self._heartbeat()
            if not batch and beat is None:
                return True
            try:
                answer = self._write(batch, beat)
            except Exception as exc:
                self._queue.extendleft(reversed(batch))
                if not self._failing:
                    log.opt(exception=exc).bind(rows=len(batch)).error(
                        "ledger write failed; {} rows kept in memory and retried", len(batch))
                self._failing = True
                return False
            if self._failing:
                log.bind(rows=len(batch)).info("ledger writes work again")
            self._failing = False
        self._on_answer(answer)
        return True

    def close(self) -> bool:
        """Stop the thread and write what is left. Returns False if the last write failed (rows are lost then)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        return self.flush()

    def _run(self) -> None:
        assert self.interval_s is not None
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except Exception as exc:  # on_answer raised: keep the thread alive
                log.opt(exception=exc).error("ledger writer callback failed")
