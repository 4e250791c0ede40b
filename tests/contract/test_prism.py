"""Contract tier: Prism serves openapi/together-chat.yaml and rejects requests that break it.

Both clients send every request shape we support; Prism validates each against the
spec (422 on a violation) and answers with random schema-valid bodies that our typed
models must parse.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MakeClient, test_settings
from wrapper import ChatCompletionResponse, UnprocessableEntityError

pytestmark = pytest.mark.contract
ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / "node_modules" / ".bin" / "prism"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    """Start Prism on a free loopback port for this module; fail under CI when it is missing."""
    if not PRISM.exists():
        if os.environ.get("CI"):
            pytest.fail("Prism is missing: scripts/test.sh installs it with npm")
        pytest.skip("Prism not installed (run scripts/test.sh)")
    port = _free_port()
    proc = subprocess.Popen(
        [str(PRISM), "mock", str(ROOT / "openapi" / "together-chat.yaml"), "--host", "127.0.0.1", "--port",
         str(port), "--errors", "--dynamic"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # Prism (node) can take long to start on a loaded 2-core machine
        while True:  # poll, don't guess
            try:
                httpx.get(f"{url}/models", timeout=2.0)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail("Prism exited before serving")
                if time.monotonic() > deadline:
                    pytest.fail("Prism did not start in 90 s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


FULL_REQUEST: dict[str, Any] = {
    "max_tokens": 32,
    "stop": ["\n\n"],
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 40,
    "min_p": 0.05,
    "repetition_penalty": 1.1,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "logit_bias": {"1024": -10.5},
    "context_length_exceeded_behavior": "truncate",
    "logprobs": 2,
    "echo": False,
    "n": 2,
    "seed": 42,
    "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"},
                                                                "strict": True}},
    "tools": [{"type": "function", "function": {"name": "lookup", "description": "d",
                                                "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "compliance": "hipaa",
    "chat_template_kwargs": {"enable_thinking": False},
    "safety_model": "meta-llama/Meta-Llama-Guard-3-8B",
    "reasoning_effort": "low",
    "reasoning": {"enabled": False},
}

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief.", "name": "sys"},
    {"role": "user", "content": [{"type": "text", "text": "Describe"},
                                 {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
    {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    {"role": "user", "content": "And so?"},
]


@pytest.mark.parametrize("params", [{}, FULL_REQUEST, {"function_call": "auto"}, {"tool_choice": "auto"},
                                    {"response_format": {"type": "json_object"}}])
async def test_requests_conform_and_responses_parse(make_client: MakeClient, prism_url: str,
                                                    params: dict[str, Any]) -> None:
    """Every supported request shape passes Prism's validation and its random valid bodies parse."""
    client = make_client(test_settings(base_url=prism_url, max_retries=0))
    for _ in range(3):  # several random bodies per shape
        reply = await client.create(messages=CONVERSATION, **params)
        assert isinstance(reply, ChatCompletionResponse)


async def test_models_list_parses(make_client: MakeClient, prism_url: str) -> None:
    """GET /models passes validation and its random valid body parses into typed models."""
    client = make_client(test_settings(base_url=prism_url, max_retries=0))
    models = await client.models()
    assert all(isinstance(m.id, str) for m in models)


async def test_prism_really_validates(make_client: MakeClient, prism_url: str) -> None:
    """A request that breaks the spec (sneaked past our validation via extra_body) gets a typed 422."""
    client = make_client(test_settings(base_url=prism_url, max_retries=0))
    with pytest.raises(UnprocessableEntityError):
        await client.create(extra_body={"temperature": 9})


async def test_batch_api_endpoints_conform_and_parse(make_client: MakeClient, prism_url: str) -> None:
    """files (upload, list, retrieve, content) and batches (create, retrieve, list, cancel) pass Prism's
    validation, multipart upload included, and its random valid bodies parse into typed models."""
    both = make_client(test_settings(base_url=prism_url, max_retries=0))
    client = both.client

    async def run(value: Any) -> Any:
        return await value if both.kind == "async" else value

    stored = await run(client.files.upload(b'{"custom_id": "1", "body": {}}\n', file_name="in.jsonl"))
    listed = await run(client.files.list())
    found = await run(client.files.retrieve("file-1"))
    content = await run(client.files.content("file-1"))
    job = await run(client.batches.create(input_file_id="file-1", model_id="m", completion_window="24h"))
    jobs = await run(client.batches.list())
    polled = await run(client.batches.retrieve("batch-1"))
    cancelled = await run(client.batches.cancel("batch-1"))
    assert all(isinstance(x.id, str) for x in (stored, *listed, found, job, *jobs, polled, cancelled))
    assert isinstance(content, bytes)
