"""The fake server's Batch API through the real client: status progression, partial failure, expiry,
cancellation and a server restart mid-job. Tests poll the job every 10 ms until its own status says so."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import test_settings
from wrapper import Client
from wrapper.testing import BatchTiming, FakeBatches, FakeTogetherServer


def requests(n: int, model: str = "Qwen/Qwen2.5-7B-Instruct-Turbo") -> bytes:
    """``n`` Batch API input lines with custom ids c0, c1, ..."""
    return b"".join(json.dumps({"custom_id": f"c{i}", "body": {
        "model": model, "messages": [{"role": "user", "content": f"say {i}"}], "max_tokens": 8}}).encode() + b"\n"
        for i in range(n))


def until(client: Client, batch_id: str, done: Callable[[Any], bool]) -> Any:
    """Poll the job until ``done(job)`` (at most ~30 s of 10 ms polls)."""
    for _ in range(3000):
        job = client.batches.retrieve(batch_id)
        if done(job):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {batch_id} stuck at {job.status}")


def lines(client: Client, file_id: str | None) -> list[dict[str, Any]]:
    """A file's JSON lines (none when there is no file)."""
    return [] if file_id is None else [json.loads(x) for x in client.files.content(file_id).splitlines()]


def test_a_job_validates_runs_and_completes_with_a_partial_failure() -> None:
    """VALIDATING -> IN_PROGRESS -> COMPLETED; the failing id lands in the error file, the rest in the output."""
    batches = FakeBatches(BatchTiming(validating=0.2, in_progress=0.3, fail_ids={"c1"}))
    with FakeTogetherServer(batches=batches) as server, Client(test_settings(base_url=server.url)) as client:
        stored = client.files.upload(requests(4), file_name="in.jsonl")
        job = client.batches.create(input_file_id=stored.id, model_id="m")
        seen: set[str] = {str(job.status)}

        def completed(j: Any) -> bool:
            seen.add(str(j.status))
            return bool(j.status == "COMPLETED")

        done = until(client, job.id, completed)
        out, err = lines(client, done.output_file_id), lines(client, done.error_file_id)
    assert {"VALIDATING", "IN_PROGRESS", "COMPLETED"} <= seen
    assert (["c0", "c2", "c3"], ["c1"]) == ([x["custom_id"] for x in out], [x["custom_id"] for x in err])
    assert out[0]["response"]["body"]["usage"]["completion_tokens"] == 2
    assert (1, 1) == (batches.uploads(), len(batches.jobs))


def test_an_expired_job_delivers_the_rows_done_by_then() -> None:
    """With expire_after inside the run, the job ends EXPIRED with a partial output file."""
    batches = FakeBatches(BatchTiming(validating=0.0, in_progress=1.0, expire_after=0.5))
    with FakeTogetherServer(batches=batches) as server, Client(test_settings(base_url=server.url)) as client:
        job = client.batches.create(input_file_id=client.files.upload(requests(10)).id)
        done = until(client, job.id, lambda j: j.status == "EXPIRED")
        out = lines(client, done.output_file_id)
    assert 0 < len(out) < 10


def test_cancel_stops_a_running_job() -> None:
    """cancel during IN_PROGRESS gives CANCELLED; rows finished before it are still delivered."""
    batches = FakeBatches(BatchTiming(validating=0.0, in_progress=30.0))
    with FakeTogetherServer(batches=batches) as server, Client(test_settings(base_url=server.url)) as client:
        job = client.batches.create(input_file_id=client.files.upload(requests(3)).id)
        until(client, job.id, lambda j: j.status == "IN_PROGRESS")
        cancelled = client.batches.cancel(job.id)
        final = until(client, job.id, lambda j: j.status == "CANCELLED")
    assert ("CANCELLED", None) == (cancelled.status, final.error_file_id)


def test_the_job_survives_a_server_restart() -> None:
    """A new server on the same port with the same state keeps the job running to COMPLETED."""
    batches = FakeBatches(BatchTiming(validating=0.0, in_progress=0.5))
    first = FakeTogetherServer(batches=batches).start()
    port = int(first.url.rsplit(":", 1)[1].split("/")[0])
    with Client(test_settings(base_url=first.url)) as client:
        job = client.batches.create(input_file_id=client.files.upload(requests(2)).id)
        first.stop()
        with FakeTogetherServer(batches=batches, port=port):
            done = until(client, job.id, lambda j: j.status == "COMPLETED")
            assert 2 == len(lines(client, done.output_file_id))
