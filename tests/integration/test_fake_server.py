"""Integration tests of the fake Together server: real loopback sockets, plain httpx as the client.

Shapes, auth and modes live here; the fault kinds are in test_fake_server_faults.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import wrapper
from wrapper.testing import FakeTogetherServer

AUTH = {"Authorization": "Bearer test-key"}
QWEN = "Qwen/Qwen2.5-7B-Instruct-Turbo"
PROMPT = "alpha beta gamma delta epsilon"
BODY: dict[str, Any] = {"model": QWEN, "messages": [{"role": "user", "content": PROMPT}]}
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
TOKEN_HEADERS = ("x-tokenlimit-limit", "x-tokenlimit-remaining")


@pytest.fixture
def server() -> Iterator[FakeTogetherServer]:
    with FakeTogetherServer(stream_chunks=4, unavailable_models=["gone/Model"]) as srv:
        yield srv


@pytest.fixture
def client(server: FakeTogetherServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10.0) as c:
        yield c


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def test_json_completion_has_togethers_shape(server: FakeTogetherServer, client: httpx.Client) -> None:
    """A plain request gets a chat.completion echoing the prompt, with consistent usage and every header."""
    resp = client.post("/chat/completions", json=BODY)
    body = resp.json()
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert all(h in resp.headers for h in ("x-request-id", *RATE_HEADERS, *TOKEN_HEADERS))
    assert body["id"] == resp.headers["x-request-id"]
    assert (body["object"], body["model"], body["prompt"]) == ("chat.completion", QWEN, [])
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": PROMPT}
    assert (choice["finish_reason"], choice["logprobs"], choice["index"]) == ("stop", None, 0)
    assert len(str(choice["seed"])) == 20
    usage = body["usage"]
    assert {"prompt_tokens": -(-len(PROMPT) // 4), "completion_tokens": 5, "total_tokens": 13} == usage
    assert {body["id"]} == server.stats.succeeded


def test_max_tokens_truncates_with_finish_length(client: httpx.Client) -> None:
    """max_tokens=2 keeps two words and reports finish_reason length."""
    body = client.post("/chat/completions", json={**BODY, "max_tokens": 2}).json()
    assert (body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]) == ("alpha beta", "length")
    assert body["usage"]["completion_tokens"] == 2


def test_llama_models_finish_with_eos(client: httpx.Client) -> None:
    """Llama replies end with finish_reason eos, a real Together value clients must accept."""
    body = client.post("/chat/completions", json={**BODY, "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo"}).json()
    assert body["choices"][0]["finish_reason"] == "eos"


def test_tools_get_a_tool_call(client: httpx.Client) -> None:
    """A request offering tools gets content null, one tool call to the first tool, finish_reason tool_calls."""
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    choice = client.post("/chat/completions", json={**BODY, "tools": tools}).json()["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == (None, "tool_calls")
    assert call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"echo": PROMPT}


def test_stream_has_chunks_usage_and_done(server: FakeTogetherServer, client: httpx.Client) -> None:
    """A stream sends N content chunks with usage null, a final chunk with finish_reason and usage, then [DONE]."""
    resp = client.post("/chat/completions", json={**BODY, "stream": True})
    data = sse_data(resp.text)
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len(chunks) == 4 + 1
    assert all(c["object"] == "chat.completion.chunk" and c["usage"] is None for c in chunks[:-1])
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == PROMPT
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 5
    assert {chunks[0]["id"]} == server.stats.succeeded


def test_models_lists_five_priced_chat_models(client: httpx.Client) -> None:
    """GET /v1/models returns the five models with their input/output prices."""
    models = client.get("/models").json()
    prices = {m["id"]: (m["pricing"]["input"], m["pricing"]["output"]) for m in models}
    assert prices == {
        "Qwen/Qwen2.5-32B-Instruct-Turbo": (0.80, 0.80),
        "Qwen/Qwen2.5-7B-Instruct-Turbo": (0.30, 0.30),
        "Qwen/Qwen2.5-72B-Instruct-Turbo": (1.20, 1.20),
        "meta-llama/Llama-3.3-70B-Instruct-Turbo": (0.88, 0.88),
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": (0.18, 0.18),
    }
    assert all(m["object"] == "model" and m["type"] == "chat" and m["context_length"] > 0 for m in models)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}])
def test_missing_bearer_is_401(server: FakeTogetherServer, headers: dict[str, str]) -> None:
    """Without a non-empty bearer token both endpoints answer 401 invalid_api_key in Together's error shape."""
    with httpx.Client(base_url=server.url, headers=headers) as anonymous:
        chat = anonymous.post("/chat/completions", json=BODY)
        models = anonymous.get("/models")
    assert (chat.status_code, models.status_code) == (401, 401)
    error = chat.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "invalid_api_key", None)


def test_unavailable_model_is_400_model_not_available(client: httpx.Client) -> None:
    """A configured unavailable model (matched case-insensitively) answers 400 model_not_available."""
    resp = client.post("/chat/completions", json={**BODY, "model": "GONE/model"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "model_not_available")


@pytest.mark.parametrize("content", [b"not json", b'{"model": "m"}', b'{"model": "m", "messages": ["hi"]}'])
def test_malformed_body_is_400(client: httpx.Client, content: bytes) -> None:
    """A body without a model and a list of message objects answers 400 invalid_request_error."""
    resp = client.post("/chat/completions", content=content)
    assert (resp.status_code, resp.json()["error"]["type"]) == (400, "invalid_request_error")


def test_unprefixed_path_and_stats(server: FakeTogetherServer, client: httpx.Client) -> None:
    """The path without /v1 works too; stats count paths, statuses, unique ids and successes."""
    ok = client.post(server.url.removesuffix("/v1") + "/chat/completions", json=BODY)
    client.post("/chat/completions", json={**BODY, "model": "gone/Model"})
    stats = server.stats
    assert (ok.status_code, stats.total) == (200, 2)
    assert dict(stats.by_path) == {"/chat/completions": 1, "/v1/chat/completions": 1}
    assert dict(stats.by_status) == {200: 1, 400: 1}
    assert len(set(stats.request_ids)) == 2
    assert {ok.headers["x-request-id"]} == stats.succeeded
    assert [r.model for r in stats.requests] == [QWEN, "gone/Model"]
    server.clear()
    assert (server.stats.total, server.max_in_window(60.0)) == (0, 0)


def test_server_side_limit_answers_429_and_windows_are_counted() -> None:
    """With limit (3, 60 s) the 4th request is a 429 with hints, and every arrival is in the window count."""
    with FakeTogetherServer(limit=(3, 60.0)) as limited, httpx.Client(base_url=limited.url, headers=AUTH) as c:
        answers = [c.post("/chat/completions", json=BODY) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
        assert answers[3].json()["error"]["type"] == "dynamic_request_limited"
        assert float(answers[3].headers["retry-after"]) > 0
        assert int(answers[3].headers["retry-after-ms"]) > 0
        assert limited.max_in_window(60.0) == 5
        assert limited.max_in_window(1e-9) == 1
        assert len(limited.arrivals) == 5


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "localhost", "example.com", "::"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    """Only loopback IP literals may be bound: anything else is refused before a socket exists."""
    with pytest.raises(ValueError, match="loopback"):
        FakeTogetherServer(host=host)


def test_url_needs_a_running_server() -> None:
    """Asking a stopped server for its URL is an error, not a URL to a closed port."""
    with pytest.raises(RuntimeError, match="not running"):
        _ = FakeTogetherServer().url


async def test_in_loop_mode_serves_json_stream_and_faults() -> None:
    """Inside a running loop (async with) the server answers JSON, streams, and injected faults."""
    async with FakeTogetherServer(stream_chunks=2) as srv:
        srv.script("server_error:503")
        async with httpx.AsyncClient(base_url=srv.url, headers=AUTH) as c:
            failed = await c.post("/chat/completions", json=BODY)
            ok = await c.post("/chat/completions", json=BODY)
            streamed = await c.post("/chat/completions", json={**BODY, "stream": True})
    assert (failed.status_code, ok.status_code) == (503, 200)
    assert ok.json()["choices"][0]["message"]["content"] == PROMPT
    assert sse_data(streamed.text)[-1] == "[DONE]"
    assert len(srv.stats.succeeded) == 2


def test_start_stop_restart_in_thread_mode() -> None:
    """A thread-mode server stops cleanly, refuses a double start, and can start again on a new port."""
    srv = FakeTogetherServer().start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            srv.start()
        assert httpx.get(srv.url + "/models", headers=AUTH).status_code == 200
    finally:
        srv.stop()
    srv.stop()
    with srv:
        assert httpx.get(srv.url + "/models", headers=AUTH).status_code == 200


def test_command_line_prints_url_and_serves() -> None:
    """``python -m wrapper.testing`` prints a loopback base URL on its first line and serves it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(wrapper.__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    args = [sys.executable, "-m", "wrapper.testing", "--seed", "3", "--fault-rate", "server_error:502=0.5"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=root) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            statuses = {httpx.post(url + "/chat/completions", json=BODY, headers=AUTH).status_code for _ in range(20)}
            assert {200, 502} == statuses
        finally:
            proc.terminate()
    assert proc.returncode == 0
