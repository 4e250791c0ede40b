"""The fake server's batch jobs: how each one behaves over time, and the result lines it writes.

A job's status is a pure function of the wall clock: ``VALIDATING`` for ``timing.validating`` seconds, then
``IN_PROGRESS`` (``progress`` rising linearly) for ``timing.in_progress`` seconds, then ``COMPLETED``; ``EXPIRED``
when ``timing.expire_after`` passes first; ``CANCELLED`` once cancelled. A terminal job gets an output file (one
line per finished row) and, when some rows failed, an error file; an expired or cancelled job delivers the rows
finished by then. :class:`~wrapper.testing._fake_batches.FakeBatches` stores the jobs and their files.

Output lines (OpenAI-compatible, as Together writes them)::

    {"id": "batch_req_1", "custom_id": "a", "response": {"status_code": 200, "request_id": "...", "body": {...}},
     "error": null}
    {"id": "batch_req_2", "custom_id": "b", "response": {"status_code": 400, "body": {"error": {...}}},
     "error": {"code": "invalid_request_error", "message": "..."}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import attrs

from wrapper.testing import _fake_bodies as bodies

__all__ = ["BatchTiming", "Job", "iso", "job_results", "job_state"]


def _ids(values: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


@attrs.frozen(kw_only=True)
class BatchTiming:
    """How a fake batch job behaves.

    Attributes:
        validating: seconds in ``VALIDATING``.
        in_progress: seconds in ``IN_PROGRESS`` (progress rises linearly from 0 to 100).
        expire_after: seconds after creation at which an unfinished job becomes ``EXPIRED``; None = never.
        fail_ids: custom ids whose rows fail into the error file (as a 400 ``invalid_request_error``).
    """

    validating: float = 0.1
    in_progress: float = 0.5
    expire_after: float | None = None
    fail_ids: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)


@attrs.define
class Job:
    """One batch job: its input rows and timing, and what it has written (see the module docstring)."""

    id: str
    input_file_id: str
    model_id: str | None
    endpoint: str
    created: float
    lines: list[dict[str, Any]]
    timing: BatchTiming
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    finished: str | None = None  # the terminal status once the files are written


def job_state(job: Job, now: float) -> tuple[str, float]:
    """(status, fraction of rows done) at ``now``."""
    t = job.timing
    end = now if job.cancelled_at is None else min(now, job.cancelled_at)
    if t.expire_after is not None:
        end = min(end, job.created + t.expire_after)
    running = end - job.created - t.validating
    fraction = 0.0 if running <= 0 else min(1.0, running / t.in_progress) if t.in_progress > 0 else 1.0
    if fraction >= 1.0:
        return "COMPLETED", 1.0
    if job.cancelled_at is not None:
        return "CANCELLED", fraction
    if t.expire_after is not None and now >= job.created + t.expire_after:
        return "EXPIRED", fraction
    return ("VALIDATING" if running <= 0 else "IN_PROGRESS"), fraction


def job_results(job: Job, lines: list[dict[str, Any]]) -> tuple[list[bytes], list[bytes]]:
    """The output and error lines of ``lines`` (the rows finished), as Together writes them."""
    out: list[bytes] = []
    err: list[bytes] = []
    for n, line in enumerate(lines, 1):
        custom_id = str(line.get("custom_id"))
        raw = line.get("body")
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        rid = f"{job.id}-req-{n}"
        valid = isinstance(body.get("messages"), list) and isinstance(body.get("model"), str)
        if custom_id in job.timing.fail_ids or not valid:
            message = "the request was rejected" if valid else "body needs model and messages"
            error = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
            err.append(_line({"id": f"batch_req_{n}", "custom_id": custom_id, "response": {
                "status_code": 400, "request_id": rid, "body": error}, "error": {
                "code": "invalid_request_error", "message": message}}))
            continue
        reply = bodies.build_reply(body, body["model"])
        completion = json.loads(bodies.completion_body(rid, n, int(job.created), body["model"], reply))
        out.append(_line({"id": f"batch_req_{n}", "custom_id": custom_id, "response": {
            "status_code": 200, "request_id": rid, "body": completion}, "error": None}))
    return out, err


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def iso(epoch: float) -> str:
    """``epoch`` as an ISO 8601 UTC time ending in ``Z``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
