"""Typical Batch API user code, type-checked by ``mypy --strict`` against the public API and run on pytest-httpx."""

from __future__ import annotations

from typing import assert_type

from pytest_httpx import HTTPXMock

from tests.conftest import API_KEY
from wrapper import AsyncClient, BatchJob, Client, FileObject

BASE = "https://api.together.xyz/v1"
JOB = {"id": "batch-1", "status": "COMPLETED", "progress": 100.0, "input_file_id": "file-1",
       "output_file_id": "file-2"}


def submit_and_read(client: Client, jsonl: bytes) -> bytes:
    """Upload, create, poll once, download: the types a user sees at each step."""
    stored = client.files.upload(jsonl, file_name="requests.jsonl")
    assert_type(stored, FileObject)
    job = client.batches.create(input_file_id=stored.id, model_id="Qwen/Qwen2.5-7B-Instruct-Turbo")
    assert_type(job, BatchJob)
    polled = client.batches.retrieve(job.id)
    assert_type(client.batches.list(), list[BatchJob])
    return client.files.content(str(polled.output_file_id)) if polled.status == "COMPLETED" else b""


async def cancel_all(client: AsyncClient) -> list[str]:
    """Cancel every running job; the async client has the same methods, awaited."""
    cancelled: list[str] = []
    for job in await client.batches.list():
        if job.status in ("VALIDATING", "IN_PROGRESS"):
            cancelled.append((await client.batches.cancel(job.id)).id)
    return cancelled


def test_submit_and_read(httpx_mock: HTTPXMock) -> None:
    """The sync example runs end to end against mocked answers."""
    httpx_mock.add_response(url=f"{BASE}/files/upload", json={"id": "file-1"})
    httpx_mock.add_response(url=f"{BASE}/batches", method="POST", json={"job": {**JOB, "status": "VALIDATING"}})
    httpx_mock.add_response(url=f"{BASE}/batches/batch-1", json=JOB)
    httpx_mock.add_response(url=f"{BASE}/batches", method="GET", json=[JOB])
    httpx_mock.add_response(url=f"{BASE}/files/file-2/content", content=b'{"custom_id": "a"}\n')
    with Client(api_key=API_KEY, ledger_url="memory") as client:
        assert b'{"custom_id": "a"}\n' == submit_and_read(client, b"{}\n")


async def test_cancel_all(httpx_mock: HTTPXMock) -> None:
    """The async example cancels the one running job."""
    running = {**JOB, "id": "b2", "status": "IN_PROGRESS"}
    httpx_mock.add_response(url=f"{BASE}/batches", method="GET", json=[JOB, running])
    httpx_mock.add_response(url=f"{BASE}/batches/b2/cancel", method="POST", json={**JOB, "id": "b2",
                                                                                 "status": "CANCELLED"})
    async with AsyncClient(api_key=API_KEY, ledger_url="memory") as client:
        assert ["b2"] == await cancel_all(client)
