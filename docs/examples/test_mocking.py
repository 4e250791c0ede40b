"""Mocking the client in your own tests with pytest-httpx: no network, no API key, no cost.

Your code takes a client; your tests give it a real ``Client`` whose HTTP answers come from ``httpx_mock``. The
whole SDK runs (validation, retries, error mapping, the ledger), so the tests also cover how your code handles
Together's errors.

Run: pip install pytest pytest-httpx pytest-asyncio; pytest docs/examples/test_mocking.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpx import HTTPXMock

from wrapper import AsyncClient, Client, RateLimitError

URL = "https://api.together.xyz/v1/chat/completions"


def completion(text: str) -> dict[str, object]:
    """A chat completion body in Together's shape."""
    return {
        "id": "test-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "Qwen/Qwen2.5-32B-Instruct-Turbo",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


# ----------------------------------------------------------------------------- the code under test (yours)
def label(client: Client, review: str) -> str:
    """Classify a review as positive/negative; "unknown" when Together keeps refusing."""
    try:
        reply = client.chat.completions.create(
            messages=[{"role": "system", "content": "Answer positive or negative."},
                      {"role": "user", "content": review}],
            max_tokens=2,
        )
    except RateLimitError:
        return "unknown"
    return (reply.choices[0].message.content or "").strip().lower()


# ----------------------------------------------------------------------------- your tests
@pytest.fixture
def client() -> Iterator[Client]:
    """A real client with test settings: a fake key, no budget, an in-memory ledger, no waiting between retries."""
    with Client(api_key="sk-test", ledger_url="memory", rate_limit_rpm=None, max_retries=1, retry_base=0.001,
                base_url="https://api.together.xyz/v1") as test_client:
        yield test_client


def test_label_reads_the_answer(client: Client, httpx_mock: HTTPXMock) -> None:
    """The answer's text is the label, and the request carried the review."""
    httpx_mock.add_response(method="POST", url=URL, json=completion(" Positive"))
    assert "positive" == label(client, "Loved it.")
    sent = json.loads(httpx_mock.get_requests()[0].content)
    assert "Loved it." == sent["messages"][1]["content"]
    assert 2 == sent["max_tokens"]


def test_label_survives_a_429_storm(client: Client, httpx_mock: HTTPXMock) -> None:
    """Two 429s (the first attempt and its one retry) give "unknown", not an exception."""
    body = {"error": {"message": "Request rate limit exceeded.", "type": "dynamic_request_limited"}}
    httpx_mock.add_response(method="POST", url=URL, status_code=429, json=body, headers={"retry-after": "0"},
                            is_reusable=True)
    assert "unknown" == label(client, "Meh.")
    assert 2 == len(httpx_mock.get_requests())


@pytest.mark.asyncio
async def test_async_client(httpx_mock: HTTPXMock) -> None:
    """The async client too; give it httpx's own transport, which pytest-httpx intercepts."""
    httpx_mock.add_response(method="POST", url=URL, json=completion("negative"))
    async with AsyncClient(api_key="sk-test", ledger_url="memory", rate_limit_rpm=None,
                           transport=httpx.AsyncHTTPTransport()) as client:
        reply = await client.chat.completions.create(messages=[{"role": "user", "content": "Awful."}], max_tokens=2)
    assert "negative" == reply.choices[0].message.content
