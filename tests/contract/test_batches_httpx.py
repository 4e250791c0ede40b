"""The Batch API endpoints on both clients against pytest-httpx: shapes on the wire, typed answers, retries.

Each new endpoint (files: upload, list, retrieve, content; batches: create, retrieve, list, cancel) is proved once
on the sync and the async client. Creates prove the no-double-create rule: retried when nothing was created
(connect error, 429), never once the request may have arrived (5xx, lost connection after sending).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from tests.conftest import BASE_URL, MakeClient
from wrapper import APIConnectionError, NotFoundError, ServerError

FILES = f"{BASE_URL}/files"
BATCHES = f"{BASE_URL}/batches"


def file_body(file_id: str = "file-abc", name: str = "in.jsonl") -> dict[str, Any]:
    """A file object as Together answers it."""
    return {"id": file_id, "object": "file", "created_at": 1700000000, "filename": name, "bytes": 42,
            "purpose": "batch-api", "FileType": "jsonl", "Processed": False}


def job_body(status: str = "VALIDATING", **extra: Any) -> dict[str, Any]:
    """A batch job as Together answers it."""
    body = {"id": "batch-1", "user_id": "u", "input_file_id": "file-abc", "status": status, "progress": 0.0,
            "endpoint": "/v1/chat/completions", "created_at": "2026-11-29T20:00:00Z", "job_deadline": None}
    body.update(extra)
    return body


async def run(both: Any, namespace: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``client.<namespace>.<method>`` on either client."""
    fn = getattr(getattr(both.client, namespace), method)
    result = fn(*args, **kwargs)
    return await result if both.kind == "async" else result


async def test_upload_sends_multipart_with_purpose_batch_api(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """files.upload posts multipart form data (purpose=batch-api, file_name, the bytes) and returns the file."""
    httpx_mock.add_response(url=f"{FILES}/upload", json=file_body())
    both = make_client()
    stored = await run(both, "files", "upload", b'{"custom_id": "1", "body": {}}\n', file_name="in.jsonl")
    request = httpx_mock.get_requests()[0]
    assert ("POST", "file-abc", "batch-api") == (request.method, stored.id, stored.purpose)
    body = request.read()
    assert b'name="purpose"\r\nContent-Type: text/plain\r\n\r\nbatch-api' in body
    assert b'name="file_name"\r\nContent-Type: text/plain\r\n\r\nin.jsonl' in body
    assert b'{"custom_id": "1", "body": {}}' in body
    assert request.headers["content-type"].startswith("multipart/form-data")


async def test_upload_reads_a_path(make_client: MakeClient, httpx_mock: HTTPXMock, tmp_path: Any) -> None:
    """files.upload accepts a path, reads it, and names the file after it."""
    path = tmp_path / "requests.jsonl"
    path.write_bytes(b"{}\n")
    httpx_mock.add_response(url=f"{FILES}/upload", json=file_body(name="requests.jsonl"))
    both = make_client()
    await run(both, "files", "upload", path)
    assert b'name="file_name"\r\nContent-Type: text/plain\r\n\r\nrequests.jsonl' in httpx_mock.get_requests()[0].read()


async def test_file_list_retrieve_and_content(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """files.list, files.retrieve and files.content read the metadata and the raw bytes."""
    httpx_mock.add_response(url=FILES, json={"data": [file_body("file-1"), file_body("file-2")]})
    httpx_mock.add_response(url=f"{FILES}/file-1", json=file_body("file-1"))
    httpx_mock.add_response(url=f"{FILES}/file-1/content", content=b'{"custom_id": "1"}\n',
                            headers={"content-type": "application/octet-stream"})
    both = make_client()
    listed = await run(both, "files", "list")
    one = await run(both, "files", "retrieve", "file-1")
    content = await run(both, "files", "content", "file-1")
    assert (["file-1", "file-2"], "file-1", b'{"custom_id": "1"}\n') == ([f.id for f in listed], one.id, content)


async def test_batch_create_sends_the_input_file_and_endpoint(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """batches.create posts input_file_id and endpoint (and model_id) and returns the job from {"job": ...}."""
    httpx_mock.add_response(url=BATCHES, method="POST", status_code=201, json={"job": job_body(), "warning": None})
    both = make_client()
    job = await run(both, "batches", "create", input_file_id="file-abc", model_id="m")
    sent = json.loads(httpx_mock.get_requests()[0].read())
    assert {"endpoint": "/v1/chat/completions", "input_file_id": "file-abc", "model_id": "m"} == sent
    assert ("batch-1", "VALIDATING") == (job.id, job.status)


async def test_batch_retrieve_list_and_cancel(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """batches.retrieve, list and cancel return typed jobs with status, progress and file ids."""
    done = job_body("COMPLETED", progress=100.0, output_file_id="file-out", error_file_id="file-err")
    httpx_mock.add_response(url=f"{BATCHES}/batch-1", json=done)
    httpx_mock.add_response(url=BATCHES, method="GET", json=[done, job_body("IN_PROGRESS", id="batch-2")])
    httpx_mock.add_response(url=f"{BATCHES}/batch-2/cancel", method="POST", json=job_body("CANCELLED", id="batch-2"))
    both = make_client()
    job = await run(both, "batches", "retrieve", "batch-1")
    jobs = await run(both, "batches", "list")
    cancelled = await run(both, "batches", "cancel", "batch-2")
    assert ("COMPLETED", 100.0, "file-out", "file-err") == (job.status, job.progress, job.output_file_id,
                                                           job.error_file_id)
    assert (["batch-1", "batch-2"], "CANCELLED") == ([j.id for j in jobs], cancelled.status)


async def test_an_unknown_status_still_parses(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A status Together adds later (and unknown keys) parse: status is a plain string in our spec."""
    httpx_mock.add_response(url=f"{BATCHES}/batch-1", json=job_body("FINALIZING", brand_new=1))
    job = await run(make_client(), "batches", "retrieve", "batch-1")
    assert ("FINALIZING", 1) == (job.status, job["brand_new"])


async def test_reads_are_retried(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 503 on batches.retrieve is retried like any idempotent read."""
    httpx_mock.add_response(url=f"{BATCHES}/batch-1", status_code=503)
    httpx_mock.add_response(url=f"{BATCHES}/batch-1", json=job_body("IN_PROGRESS"))
    both = make_client()
    job = await run(both, "batches", "retrieve", "batch-1")
    assert ("IN_PROGRESS", 2) == (job.status, len(httpx_mock.get_requests()))


async def test_cancel_is_retried(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """cancel is idempotent (cancelling twice is harmless), so a 500 is retried."""
    httpx_mock.add_response(url=f"{BATCHES}/batch-1/cancel", status_code=500)
    httpx_mock.add_response(url=f"{BATCHES}/batch-1/cancel", json=job_body("CANCELLED"))
    job = await run(make_client(), "batches", "cancel", "batch-1")
    assert "CANCELLED" == job.status


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_create_is_not_resent_after_a_server_error(make_client: MakeClient, httpx_mock: HTTPXMock,
                                                         status: int) -> None:
    """A 5xx on batches.create may have created the job: it is raised after one attempt, never resent."""
    httpx_mock.add_response(url=BATCHES, method="POST", status_code=status)
    with pytest.raises(ServerError):
        await run(make_client(), "batches", "create", input_file_id="file-abc")
    assert 1 == len(httpx_mock.get_requests())


async def test_upload_is_not_resent_after_a_lost_connection(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A read timeout on files.upload (the bytes were sent) is final: a resend could store the file twice."""
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=f"{FILES}/upload")
    with pytest.raises(APIConnectionError) as caught:
        await run(make_client(), "files", "upload", b"{}\n")
    assert (True, 1) == (caught.value.sent, len(httpx_mock.get_requests()))


async def test_create_is_retried_when_nothing_was_created(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A connect error (nothing sent) and a 429 (refused) on batches.create are retried; the job is made once."""
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=BATCHES, method="POST")
    httpx_mock.add_response(url=BATCHES, method="POST", status_code=429, headers={"retry-after": "1"})
    httpx_mock.add_response(url=BATCHES, method="POST", status_code=201, json={"job": job_body()})
    both = make_client()
    job = await run(both, "batches", "create", input_file_id="file-abc")
    assert ("batch-1", 3) == (job.id, len(httpx_mock.get_requests()))


async def test_a_missing_batch_is_not_found(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 404 on batches.retrieve raises NotFoundError at once (not retried)."""
    httpx_mock.add_response(url=f"{BATCHES}/nope", status_code=404, json={"error": {"message": "no such batch"}})
    with pytest.raises(NotFoundError):
        await run(make_client(), "batches", "retrieve", "nope")
    assert 1 == len(httpx_mock.get_requests())
