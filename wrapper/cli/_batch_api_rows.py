"""Batch API results turned into the real-time mode's rows: one outcome per ``custom_id``, from the output and
error files, and the output/errors lines written from it (the same columns as ``_files.result_record`` and
``_files.error_record``, plus ``mode`` and ``batch_id``).

Lines are read leniently: ``{"custom_id", "response": {"status_code", "request_id", "body"}, "error"}`` (Together,
OpenAI-compatible) or a bare ``{"custom_id", "body"}``. A row in neither file was not processed (the batch
expired, failed or was cancelled first): it is not billed and becomes an error line of type ``not_processed``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from wrapper.cli._files import result_record
from wrapper.cli._input import Row

__all__ = ["Outcome", "error_line", "not_processed", "parse_results", "result_line"]


@attrs.frozen
class Outcome:
    """What happened to one row in the batch."""

    ok: bool
    body: dict[str, Any] = attrs.field(factory=dict)  # the chat completion (ok) or the error body
    request_id: str | None = None
    status: int | None = None
    type: str | None = None
    code: str | None = None
    message: str | None = None

    @property
    def usage(self) -> tuple[int | None, int | None]:
        """(prompt, completion) tokens as Together reported them (None when missing)."""
        usage = self.body.get("usage") if self.ok else None
        if not isinstance(usage, dict):
            return None, None

        def count(value: object) -> int | None:
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

        return count(usage.get("prompt_tokens")), count(usage.get("completion_tokens"))


def _outcome(line: dict[str, Any]) -> Outcome:
    raw = line.get("response")
    response: dict[str, Any] = raw if isinstance(raw, dict) else {}
    found = response.get("body", line.get("body"))
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    status = response.get("status_code") if isinstance(response.get("status_code"), int) else None
    request_id = response.get("request_id") or body.get("id")
    error = line.get("error")
    if not error and (status is None or 200 <= status < 300) and isinstance(body.get("choices"), list):
        return Outcome(True, body, request_id, status or 200)
    nested = body.get("error")
    detail: dict[str, Any] = nested if isinstance(nested, dict) else {}
    if isinstance(error, dict):
        detail = {**detail, **{k: v for k, v in error.items() if v is not None}}
    message = detail.get("message") or (error if isinstance(error, str) else None) or "the batch request failed"
    return Outcome(False, body, request_id, status, detail.get("type"), detail.get("code"), str(message))


def parse_results(output: bytes, errors: bytes) -> dict[str, Outcome]:
    """Each ``custom_id``'s outcome; a line that does not parse is skipped (its row counts as not processed)."""
    outcomes: dict[str, Outcome] = {}
    for raw in (*errors.splitlines(), *output.splitlines()):  # an answer in the output wins over an error
        try:
            line = json.loads(raw)
            key = str(line["custom_id"])
        except (ValueError, KeyError, TypeError):
            continue
        outcome = _outcome(line)
        if outcome.ok or key not in outcomes:
            outcomes[key] = outcome
    return outcomes


def not_processed(status: str) -> Outcome:
    """The outcome of a row the batch never ran (it ended ``status`` first)."""
    return Outcome(False, type="not_processed", code=status.lower(),
                   message=f"not processed: the batch ended {status} before this row ran (not billed)")


def result_line(row: Row, outcome: Outcome, cost: Decimal | None, run_id: str, batch_id: str) -> dict[str, Any]:
    """The output line of a row the batch answered (the real-time columns, plus ``mode`` and ``batch_id``)."""
    record = result_record(row, outcome.body, cost, run_id)
    record["request_id"] = outcome.request_id or record.get("request_id")
    record.update(mode="batch-api", batch_id=batch_id)
    return record


def error_line(row: Row, outcome: Outcome, run_id: str, batch_id: str | None) -> dict[str, Any]:
    """The errors-file line of a row the batch did not answer (the real-time columns, plus ``mode``)."""
    return {
        "id": row.id, "line": row.line, "error_type": "BatchRowError", "status": outcome.status,
        "type": outcome.type, "code": outcome.code, "message": outcome.message, "request_id": outcome.request_id,
        "attempts": 1, "run_id": run_id, "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "mode": "batch-api", "batch_id": batch_id,
    }
