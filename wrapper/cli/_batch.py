"""The resumable batch runner: workers send rows through one AsyncClient, each answer is written as it lands.

A row is *done* once its line is in the output; nothing else marks it. So a crash, a Ctrl-C or a budget stop
leaves every other row *not done*, and running the same command again sends exactly those.

Stopping: no new row starts once a stop is requested -- by SIGINT/SIGTERM (in-flight rows finish; a second
signal cancels them, leaving them not done), by the budget (``BudgetExceededError``: the client refused to
reserve, nothing was sent), by a breaker that stays open longer than the patience, by an error that every
later row would hit too (bad key, unknown model), by Together's ``credit_limit`` (the account is out of money:
its own reason and exit code; the row is not failed, it is sent again on a resume), or by a write that fails
(a full disk). A row refused by an open breaker is not failed: its worker waits for the probe and tries again
(``_batch_breaker``).

A failed write never loses a paid answer: the first one stops new rows, and that answer and those of the rows
still in flight go to a recovery file on another path (and stay in :attr:`BatchRunner.unwritten`); the next
run adds them to the output before sending anything, so it never pays for them again.

What a run did and its exit code are in ``_batch_stats``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from wrapper import (
    AsyncClient,
    AuthenticationError,
    BudgetExceededError,
    ChatCompletionResponse,
    CircuitOpenError,
    ConfigError,
    ConfirmationRequiredError,
    CreditLimitError,
    ModelNotAvailableError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    TogetherError,
)
from wrapper.cli._batch_breaker import CircuitWaits
from wrapper.cli._batch_stats import BatchStats, ProgressSink
from wrapper.cli._files import JsonlAppender, Recovery, ResultFile, error_record, result_record
from wrapper.cli._input import Row

__all__ = ["BatchRunner"]

FATAL = (AuthenticationError, PaymentRequiredError, PermissionDeniedError, NotFoundError, ConfigError)


class BatchRunner:
    """Sends rows with ``concurrency`` workers; see the module docstring for how it stops."""

    def __init__(
        self, client: AsyncClient, rows: Sequence[Row], *, results: ResultFile, errors: JsonlAppender,
        progress: ProgressSink, model: str, max_tokens: int, concurrency: int, breaker_patience: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self._rows, self._results, self._errors = client, rows, results, errors
        self._progress, self._model, self._max_tokens = progress, model, max_tokens
        self._concurrency, self._clock = max(1, concurrency), clock
        self.stats = BatchStats(planned=len(rows))
        self._queue: Iterator[Row] = iter(rows)
        self._stopping = asyncio.Event()
        self._circuits = CircuitWaits(client, patience=breaker_patience, clock=clock, stopping=self._stopping,
                                      progress=progress, stop=self.stop)
        self._tasks: list[asyncio.Task[None]] = []
        self._recovery: Recovery | None = None  # set on the first failed write

    async def run(self) -> BatchStats:
        """Send every row (or until stopped); returns the stats. Signals are handled only while this runs."""
        started = self._clock()
        installed = self._install_signals()
        try:
            self._tasks = [asyncio.create_task(self._worker()) for _ in range(min(self._concurrency, len(self._rows)))]
            if self._tasks:
                await asyncio.wait(self._tasks)
            # Retrieve every task's exception (no "Task exception was never retrieved"), then raise the first.
            errors = [task.exception() for task in self._tasks if not task.cancelled()]
            error = next((e for e in errors if e is not None), None)
            if error is not None:
                raise error  # a bug in a worker: loud (every finished row is already written or recovered)
        finally:
            self._remove_signals(installed)
            self.stats.elapsed = self._clock() - started
            if self._recovery is not None:
                self._recovery.close()
        return self.stats

    def stop(self, reason: str, detail: str, *, note: str | None = None) -> None:
        """Start no new rows; a signal's reason wins over any other, a failed write over the rest."""
        rank = {"interrupted": 2, "terminated": 2, "disk": 1}
        if self.stats.stop_reason is None or rank.get(reason, 0) >= max(rank.get(self.stats.stop_reason, 0), 1):
            self.stats.stop_reason, self.stats.stop_detail = reason, detail
            self._progress.note(f"stopping: {note or detail}")
        self._stopping.set()

    # ---------------------------------------------------------------- signals
    def _install_signals(self) -> list[signal.Signals]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig, reason in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
            try:
                loop.add_signal_handler(sig, self._on_signal, reason)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread, or no signals here
                continue
            installed.append(sig)
        return installed

    def _remove_signals(self, installed: list[signal.Signals]) -> None:
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)

    def _on_signal(self, reason: str) -> None:
        if self.stats.stop_reason in ("interrupted", "terminated"):
            self._progress.note("second signal: cancelling the rows in flight (they stay not done)")
            for task in self._tasks:
                task.cancel()
            return
        name = "SIGINT (Ctrl-C)" if reason == "interrupted" else "SIGTERM"
        self.stop(reason, f"{name} received", note=f"{name} received: finishing the rows in flight "
                                                   "(send it again to cancel them)")

    # ---------------------------------------------------------------- workers
    async def _worker(self) -> None:
        while not self._stopping.is_set():
            row = next(self._queue, None)
            if row is None:
                return
            self.stats.started += 1
            try:
                await self._process(row)
            except asyncio.CancelledError:
                self.stats.cancelled += 1
                raise

    def _params(self, row: Row) -> dict[str, Any]:
        params = dict(row.params)
        params.setdefault("max_tokens", self._max_tokens)  # always bounded, so the estimate is a true maximum
        return params

    async def _process(self, row: Row) -> None:
        model = row.model or self._model
        while await self._circuits.gate(model):
            try:
                response = await self._client.chat.completions.create(messages=row.messages, model=model,
                                                                      **self._params(row))
            except CircuitOpenError as exc:
                self._circuits.opened(model, exc.retry_in)
                continue
            except BudgetExceededError as exc:
                self.stop("budget", f"budget reached: {exc}")
                return
            except ConfirmationRequiredError as exc:  # a dearer fallback was refused: the row stays not done
                self.stop("refused", f"switching to a dearer fallback was not confirmed ({exc})")
                return
            except CreditLimitError as exc:  # not the row's fault: it stays not done, a resume sends it
                self.stop("credit", f"Together refused for lack of credit: {exc}")
                return
            except TogetherError as exc:
                if self._circuits.outage(model, exc):  # the client stopped retrying because the breaker opened
                    self._circuits.opened(model, self._client.settings.breaker_recovery)
                    continue
                self._failed(row, exc, fatal=isinstance(exc, FATAL) or (
                    isinstance(exc, ModelNotAvailableError) and row.model is None))
                return
            self._succeeded(row, model, response)
            return

    def _succeeded(self, row: Row, model: str, response: ChatCompletionResponse) -> None:
        body = response.to_dict()
        said = body.get("model")
        answered = said if isinstance(said, str) and said else model  # the model that answered (fallbacks)
        cost = self._cost(answered, body)
        if cost is None and answered != model:  # an answer naming a model we have no price for
            cost = self._cost(model, body)
        self._keep(result_record(row, body, cost, self._client.run_id))
        self._circuits.answered(model, answered)
        self.stats.done += 1
        if cost is None:
            self.stats.unpriced += 1
        else:
            self.stats.cost += cost
        self._progress.update(self.stats)

    @property
    def unwritten(self) -> list[dict[str, Any]]:
        """Answers received (and paid for) that the output could not take; also in the recovery file."""
        return [] if self._recovery is None else self._recovery.kept

    def _keep(self, record: dict[str, Any]) -> None:
        """Write a paid answer to the output; after a failed write, to the recovery file and memory instead."""
        if self._recovery is None:
            try:
                self._results.append(record)
                return
            except OSError as exc:
                self._write_failed(self._results.path, exc)
        assert self._recovery is not None
        self._recovery.keep(record)
        if self.stats.stop_reason == "disk":
            self.stats.stop_detail = self._recovery.detail()

    def _write_failed(self, path: object, exc: OSError) -> None:
        """The first failed write: stop starting rows; answers from now on go to the recovery file."""
        if self._recovery is None:
            self._recovery = Recovery(self._results.path, path, exc)
            self.stop("disk", self._recovery.detail(), note=f"cannot write {path} ({exc.strerror or exc}): "
                                                             "finishing the rows in flight, starting no more")

    def _failed(self, row: Row, exc: TogetherError, *, fatal: bool) -> None:
        try:
            self._errors.append(error_record(row, exc, self._client.run_id))
        except OSError as write_error:  # the row is not done either way: a resume sends it again
            self._write_failed(getattr(self._errors, "_path", None) or "the errors file", write_error)
        self.stats.failed += 1
        self._progress.update(self.stats)
        if fatal:
            self.stop("fatal", f"{type(exc).__name__} would fail every row: {exc}")

    def _cost(self, model: str, body: dict[str, Any]) -> Decimal | None:
        """The row's cost as the ledger computes it: usage at the model's price (None when unpriced)."""
        usage = body.get("usage") or {}
        price = self._client.ledger.price_of(model)
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if price is None or not isinstance(prompt, int) or not isinstance(completion, int):
            return None
        cost: Decimal = price.cost(prompt, completion)
        return cost
