"""Collect a finished Batch API job: download its files, settle the ledger at the batch price, write the rows.

Order per part, so that a crash at any point neither loses nor double-charges a row: download (repeatable), settle
every row's reservation (answered rows: usage x the batch price; others: released) and flush the ledger, save
``settled`` in the state file, append the output/errors lines (ids already in the output are skipped), save
``written``. A resume re-downloads a part that is not ``written`` and settles it only if it is not ``settled``.
The one window left is between the ledger flush and the state save (milliseconds): a kill exactly there would
charge the part again on resume.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from wrapper import AsyncClient
from wrapper.cli._batch_api_rows import Outcome, error_line, not_processed, parse_results, result_line
from wrapper.cli._batch_api_state import JobState, Part
from wrapper.cli._files import JsonlAppender, ResultFile, default_errors_path
from wrapper.cli._input import Row
from wrapper.cli._job import BatchJob
from wrapper.cli._recovery import prune_errors
from wrapper.reports import batch_model

__all__ = ["collect"]


async def collect(client: AsyncClient, state: JobState, by_key: dict[str, Row], held: dict[str, Any],
                   results: ResultFile, job: BatchJob) -> list[Row]:
    """Settle and write every part not written yet; return the rows the batch did not answer.

    Per part: download the output and error files, settle every row in the ledger (unless a previous run did:
    ``settled``), save the state, append the output and errors lines, save ``written``.
    """
    errors_path = job.errors or default_errors_path(job.output)
    errors = JsonlAppender(errors_path, durable=job.fsync)
    failed: list[Row] = []
    try:
        for part in state.parts:
            if part.written:
                continue
            out = await client.files.content(part.output_file_id, timeout=600.0) if part.output_file_id else b""
            err = await client.files.content(part.error_file_id, timeout=600.0) if part.error_file_id else b""
            outcomes = parse_results(out, err)
            gone = not_processed(part.status or "FAILED")
            if not part.settled:
                await asyncio.to_thread(_settle, client, part, outcomes, gone, held)
                part.settled = True
                state.save()
            for key in part.ids:
                row, outcome = by_key[key], outcomes.get(key, gone)
                if outcome.ok and key not in results.done:
                    cost = _cost(client, row, state.model, outcome)
                    results.append(result_line(row, outcome, cost, state.run_id, str(part.batch_id)))
                elif not outcome.ok:
                    errors.append(error_line(row, outcome, state.run_id, part.batch_id))
                    failed.append(row)
            part.written = True
            state.save()
    finally:
        errors.close()
    prune_errors(errors_path, results.done)  # a resumed write left no duplicate; rows done since are dropped
    return failed


def _settle(client: AsyncClient, part: Part, outcomes: dict[str, Outcome], gone: Outcome,
            held: dict[str, Any]) -> None:
    """Commit each answered row's usage at the batch price; release the hold of every other row."""
    ledger = client.ledger
    for key in part.ids:
        outcome = outcomes.get(key, gone)
        r = held.pop(key)
        if outcome.ok:
            prompt, completion = outcome.usage
            ledger.settle_ok(r, usage_prompt=prompt, usage_completion=completion, request_id=outcome.request_id,
                             latency_s=None, attempt=1, status=outcome.status or 200)
        else:
            ledger.settle_error(r, request_id=outcome.request_id, latency_s=None, attempt=1, status=outcome.status,
                                error_type=f"batch {outcome.type or 'error'}")
    ledger.flush()


def _cost(client: AsyncClient, row: Row, model: str, outcome: Outcome) -> Decimal | None:
    price = client.ledger.price_of(batch_model(row.model or model))
    prompt, completion = outcome.usage
    return None if price is None or prompt is None or completion is None else price.cost(prompt, completion)
