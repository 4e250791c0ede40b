"""Live tier (opt-in, skipped without TOGETHER_API_KEY): the Batch API endpoints against Together itself.

Submits a two-row batch (4 tokens each, at most a fraction of a cent even if Together runs it before the
cancel lands) and cancels it, proving upload, create, retrieve, list and cancel parse Together's real bodies.
"""

from __future__ import annotations

import json

import pytest

from tests.live.conftest import live_settings, requires_key
from wrapper import Client

pytestmark = [pytest.mark.live, requires_key]


def test_two_row_batch_is_submitted_and_cancelled(live_model: str) -> None:
    """Upload a two-row JSONL, create a batch over it, see it listed, cancel it; every answer is typed."""
    lines = b"".join(json.dumps({"custom_id": f"live-{i}", "body": {
        "model": live_model, "messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 4}}).encode() + b"\n"
        for i in range(2))
    with Client(live_settings(model=live_model)) as client:
        stored = client.files.upload(lines, file_name="wrapper-live-batch.jsonl")
        assert stored.id and client.files.retrieve(stored.id).id == stored.id
        job = client.batches.create(input_file_id=stored.id, model_id=live_model)
        try:
            assert job.id in {j.id for j in client.batches.list()}
            assert client.batches.retrieve(job.id).input_file_id == stored.id
        finally:
            cancelled = client.batches.cancel(job.id)
        assert cancelled.status in {"CANCELLING", "CANCELLED", "COMPLETED", "FAILED"}
