"""The fake server's Batch API endpoints: files and batch jobs, with test controls that hold requests.

:class:`FakeBatches` holds the state (files, jobs, counters) and answers ``POST /files/upload``, ``GET /files``,
``GET /files/{id}``, ``GET /files/{id}/content``, ``POST``/``GET /batches``, ``GET /batches/{id}`` and
``POST /batches/{id}/cancel`` in Together's shapes. How a job moves through its statuses over time (configured by
:class:`~wrapper.testing._fake_jobs.BatchTiming`) and the result lines it writes are in :mod:`._fake_jobs`.

The state lives in this object, not in the server: give the same ``FakeBatches`` to a new
:class:`~wrapper.testing.FakeTogetherServer` on the same port to simulate a server restart mid-job.
:meth:`FakeBatches.gate` holds requests to one operation (``upload``, ``create``, ``retrieve``, ``content``)
until :meth:`FakeBatches.release`, so a test can kill a client at an exact step; a held request whose client
went away is dropped without effect. ``gate("upload:after")`` (or ``"create:after"``) instead does the work and
holds only the answer: the file or job exists, but a client killed then never saw its id.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs
from aiohttp import BodyPartReader, web

from wrapper.testing._fake_jobs import BatchTiming, Job, iso, job_results, job_state

__all__ = ["FakeBatches"]

_JSON = "application/json"


@attrs.define
class _File:
    id: str
    name: str
    purpose: str
    data: bytes
    created: int


class FakeBatches:
    """Files and batch jobs of the fake server (see the module docstring).

    Args:
        timing: how new jobs behave (change it between jobs with :attr:`timing`).
        clock: the wall clock (epoch seconds).

    Attributes:
        counts: requests per operation (``upload``, ``create``, ``retrieve``, ``list``, ``cancel``, ``content``,
            ``file``, ``files``) that reached the handler (held ones included).
    """

    def __init__(self, timing: BatchTiming | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.timing = timing or BatchTiming()
        self._clock = clock
        self.files: dict[str, _File] = {}
        self.jobs: dict[str, Job] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.held: collections.Counter[str] = collections.Counter()
        self._gates: set[str] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # ----------------------------------------------------------------- test controls
    def gate(self, *operations: str) -> None:
        """Hold every request to these operations until :meth:`release` (see :attr:`held`)."""
        self._gates.update(operations)

    def release(self, *operations: str) -> None:
        """Let held (and later) requests to these operations through; none given: all."""
        self._gates.difference_update(operations or set(self._gates))

    def uploads(self) -> int:
        """Files uploaded with purpose ``batch-api``."""
        return sum(1 for f in self.files.values() if f.purpose == "batch-api")

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    # ----------------------------------------------------------------- routes
    def routes(self, app: web.Application, prefix: str, authorized: Callable[[web.BaseRequest], bool]) -> None:
        """Add this API's routes under ``prefix`` (``/v1`` or empty)."""
        def wrap(op: str, fn: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
            async def handler(request: web.Request) -> web.StreamResponse:
                self.counts[op] += 1
                if not authorized(request):
                    return _error(401, "Invalid API key provided.", "invalid_api_key")
                while op in self._gates:
                    self.held[op] += 1
                    await asyncio.sleep(0.01)
                    self.held[op] -= 1
                    if request.transport is None or request.transport.is_closing():
                        raise web.HTTPRequestTimeout()  # the client went away: drop without effect
                result: web.StreamResponse = await fn(request)
                after = f"{op}:after"  # done, but the answer is held: a client killed now never learns the id
                while after in self._gates:
                    self.held[after] += 1
                    await asyncio.sleep(0.01)
                    self.held[after] -= 1
                return result
            return handler

        app.router.add_post(f"{prefix}/files/upload", wrap("upload", self._upload))
        app.router.add_get(f"{prefix}/files", wrap("files", self._list_files))
        app.router.add_get(f"{prefix}/files/{{id}}", wrap("file", self._file))
        app.router.add_get(f"{prefix}/files/{{id}}/content", wrap("content", self._content))
        app.router.add_post(f"{prefix}/batches", wrap("create", self._create))
        app.router.add_get(f"{prefix}/batches", wrap("list", self._list))
        app.router.add_get(f"{prefix}/batches/{{id}}", wrap("retrieve", self._retrieve))
        app.router.add_post(f"{prefix}/batches/{{id}}/cancel", wrap("cancel", self._cancel))

    # ----------------------------------------------------------------- files
    async def _upload(self, request: web.Request) -> web.StreamResponse:
        fields: dict[str, str] = {}
        data: bytes | None = None
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name
            if name == "file":
                data = bytes(await part.read())
            elif name:
                fields[name] = await part.text()
        if data is None or "purpose" not in fields or "file_name" not in fields:
            return _error(400, "file, purpose and file_name are required", "invalid_request_error")
        with self._lock:
            stored = _File(self._new_id("file"), fields["file_name"], fields["purpose"], data, int(self._clock()))
            self.files[stored.id] = stored
        return _json(_file_body(stored))

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        return _json({"data": [_file_body(f) for f in self.files.values()]})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = self.files.get(request.match_info["id"])
        return _json(_file_body(found)) if found else _error(404, "file not found", "not_found")

    async def _content(self, request: web.Request) -> web.StreamResponse:
        found = self.files.get(request.match_info["id"])
        if found is None:
            return _error(404, "file not found", "not_found")
        return web.Response(body=found.data, headers={"content-type": "application/octet-stream"})

    # ----------------------------------------------------------------- batches
    async def _create(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            file_id = body["input_file_id"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "input_file_id and endpoint are required", "invalid_request_error")
        source = self.files.get(file_id)
        if source is None or source.purpose != "batch-api":
            return _error(400, f"no batch-api file {file_id!r}", "invalid_request_error")
        lines = [json.loads(raw) for raw in source.data.splitlines() if raw.strip()]
        with self._lock:
            job = Job(self._new_id("batch"), file_id, body.get("model_id"), body.get("endpoint", ""),
                       self._clock(), lines, self.timing)
            self.jobs[job.id] = job
        return _json({"job": self._job_body(job), "warning": None}, status=201)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        return _json([self._job_body(j) for j in self.jobs.values()])

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        job = self.jobs.get(request.match_info["id"])
        return _json(self._job_body(job)) if job else _error(404, "batch not found", "not_found")

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "batch not found", "not_found")
        status, _ = job_state(job, self._clock())
        if status in ("VALIDATING", "IN_PROGRESS") and job.cancelled_at is None:
            job.cancelled_at = self._clock()
        return _json(self._job_body(job))

    # ----------------------------------------------------------------- a job's answer and its files
    def _job_body(self, job: Job) -> dict[str, Any]:
        status, fraction = job_state(job, self._clock())
        if status in ("COMPLETED", "CANCELLED", "EXPIRED") and job.finished is None:
            self._finish(job, status, fraction)
        return {
            "id": job.id, "user_id": "fake-user", "input_file_id": job.input_file_id, "status": status,
            "progress": round(fraction * 100, 2), "endpoint": job.endpoint, "model_id": job.model_id,
            "file_size_bytes": len(self.files[job.input_file_id].data),
            "created_at": iso(job.created), "job_deadline": iso(job.created + 86400),
            "completed_at": iso(self._clock()) if job.finished else None,
            "output_file_id": job.output_file_id, "error_file_id": job.error_file_id,
            "error": None if status != "EXPIRED" else "the batch expired before every request finished",
        }

    def _finish(self, job: Job, status: str, fraction: float) -> None:
        """Write the output and error files of a job that reached ``status`` with ``fraction`` of rows done."""
        with self._lock:
            if job.finished is not None:
                return
            done = int(len(job.lines) * fraction + 1e-9)
            out, err = job_results(job, job.lines[:done])
            if out:
                job.output_file_id = self._store(f"{job.id}-output.jsonl", out)
            if err:
                job.error_file_id = self._store(f"{job.id}-errors.jsonl", err)
            job.finished = status

    def _store(self, name: str, lines: Iterable[bytes]) -> str:
        stored = _File(self._new_id("file"), name, "batch-generated", b"".join(lines), int(self._clock()))
        self.files[stored.id] = stored
        return stored.id


def _file_body(f: _File) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "created_at": f.created, "filename": f.name, "bytes": len(f.data),
            "purpose": f.purpose, "FileType": "jsonl", "Processed": True}


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(doc).encode(), headers={"content-type": _JSON})


def _error(status: int, message: str, code: str) -> web.Response:
    return _json({"error": {"message": message, "type": "invalid_request_error", "code": code}}, status=status)
