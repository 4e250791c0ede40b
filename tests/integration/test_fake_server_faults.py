"""Integration tests of the fake server's faults: every kind does what it says on a real loopback socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from wrapper.testing import FakeTogetherServer, Fault

AUTH = {"Authorization": "Bearer test-key"}
BODY: dict[str, Any] = {"model": "Qwen/Qwen2.5-7B-Instruct-Turbo", "messages": [{"role": "user", "content": "a b c d"}]}
STREAM = {**BODY, "stream": True}
BROKEN = (httpx.RemoteProtocolError, httpx.ReadError)
HINTS = ("retry-after", "retry-after-ms", "x-ratelimit-reset")


@pytest.fixture
def server() -> Iterator[FakeTogetherServer]:
    with FakeTogetherServer(stream_chunks=4, fault_delay=0.01) as srv:
        yield srv


@pytest.fixture
def client(server: FakeTogetherServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10.0) as c:
        yield c


def read_stream(client: httpx.Client, body: dict[str, Any]) -> tuple[int, list[str], Exception | None]:
    """Status, the ``data:`` lines received, and the error that ended the read (None for a clean end)."""
    lines: list[str] = []
    with client.stream("POST", "/chat/completions", json=body) as resp:
        try:
            lines.extend(line[6:] for line in resp.iter_lines() if line.startswith("data: "))
        except (*BROKEN, httpx.ReadTimeout) as exc:
            return resp.status_code, lines, exc
    return resp.status_code, lines, None


def test_latency_fault_still_answers(server: FakeTogetherServer, client: httpx.Client) -> None:
    """A latency fault delays but answers normally, and counts as a success and as that fault."""
    server.script("latency")
    resp = client.post("/chat/completions", json=BODY)
    assert (resp.status_code, resp.json()["choices"][0]["message"]["content"]) == (200, "a b c d")
    assert (1, {resp.headers["x-request-id"]}) == (server.stats.by_fault["latency"], server.stats.succeeded)


def test_rate_limit_with_hints(server: FakeTogetherServer, client: httpx.Client) -> None:
    """rate_limit answers 429 dynamic_request_limited with retry-after, retry-after-ms and x-ratelimit-reset."""
    server.script(Fault("rate_limit", retry_after=0.5))
    resp = client.post("/chat/completions", json=BODY)
    assert (resp.status_code, resp.json()["error"]["type"]) == (429, "dynamic_request_limited")
    assert (*(resp.headers[h] for h in HINTS), resp.headers["x-ratelimit-remaining"]) == ("0.5", "500", "0.5", "0")
    assert not server.stats.succeeded


def test_rate_limit_without_hints(client: httpx.Client, server: FakeTogetherServer) -> None:
    """rate_limit_no_hints answers 429 without any of the three hint headers."""
    server.script("rate_limit_no_hints")
    resp = client.post("/chat/completions", json=BODY)
    assert resp.status_code == 429
    assert [h for h in HINTS if h in resp.headers] == []


def test_fault_headers_override(client: httpx.Client, server: FakeTogetherServer) -> None:
    """Headers given on a Fault replace the server's own (here a custom retry-after)."""
    server.script(Fault("rate_limit", headers={"retry-after": "7"}))
    assert client.post("/chat/completions", json=BODY).headers["retry-after"] == "7"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_have_json_bodies(client: httpx.Client, server: FakeTogetherServer, status: int) -> None:
    """server_error:<status> answers that status with Together's JSON error shape and a request id."""
    server.script(f"server_error:{status}")
    resp = client.post("/chat/completions", json=BODY)
    assert (status, "server_error") == (resp.status_code, resp.json()["error"]["type"])
    assert resp.headers["x-request-id"] == resp.json()["id"]


def test_html_error_is_not_json(client: httpx.Client, server: FakeTogetherServer) -> None:
    """html_error answers 503 with an HTML page that is not JSON."""
    server.script("html_error")
    resp = client.post("/chat/completions", json=BODY)
    assert (resp.status_code, resp.headers["content-type"]) == (503, "text/html")
    assert "<html>" in resp.text
    with pytest.raises(json.JSONDecodeError):
        resp.json()


def test_reset_before_headers(client: httpx.Client, server: FakeTogetherServer) -> None:
    """reset_before_headers breaks the connection before any answer; the next request still works."""
    server.script("reset_before_headers")
    with pytest.raises(BROKEN):
        client.post("/chat/completions", json=BODY)
    assert client.post("/chat/completions", json=BODY).status_code == 200
    assert (server.stats.by_status[0], len(server.stats.succeeded)) == (1, 1)


@pytest.mark.parametrize("body", [BODY, STREAM])
def test_reset_after_headers(client: httpx.Client, server: FakeTogetherServer, body: dict[str, Any]) -> None:
    """reset_after_headers delivers a 200 status line, then the body read fails."""
    server.script("reset_after_headers")
    with client.stream("POST", "/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        with pytest.raises(BROKEN):
            resp.read()
    assert not server.stats.succeeded


def test_truncated_json(client: httpx.Client, server: FakeTogetherServer) -> None:
    """truncated_json sends a 200 whose content-length matches a body that is cut and not valid JSON."""
    server.script("truncated_json")
    resp = client.post("/chat/completions", json=BODY)
    assert (200, len(resp.content)) == (resp.status_code, int(resp.headers["content-length"]))
    with pytest.raises(json.JSONDecodeError):
        resp.json()


@pytest.mark.parametrize("kind", ["stream_cut", "truncated_json"])
def test_stream_cut(client: httpx.Client, server: FakeTogetherServer, kind: str) -> None:
    """stream_cut (and truncated_json on a stream) sends the first chunks, then closes: no final chunk, no [DONE]."""
    server.script(Fault(kind, after_chunks=2))  # type: ignore[arg-type]
    status, lines, error = read_stream(client, STREAM)
    assert (status, len(lines)) == (200, 2)
    assert isinstance(error, BROKEN)
    assert not server.stats.succeeded


def test_stream_stall_trips_a_read_timeout(server: FakeTogetherServer) -> None:
    """stream_stall goes silent mid-stream: a client with a 0.5 s read timeout gives up after the first chunks."""
    server.script(Fault("stream_stall", delay=30.0, after_chunks=1))
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=httpx.Timeout(5.0, read=0.5)) as c:
        status, lines, error = read_stream(c, STREAM)
    assert (status, len(lines)) == (200, 1)
    assert isinstance(error, httpx.ReadTimeout)


def test_short_stream_stall_then_completes(client: httpx.Client, server: FakeTogetherServer) -> None:
    """A stall shorter than the client's timeout resumes: the stream completes with [DONE] and is a success."""
    server.script(Fault("stream_stall", delay=0.01, after_chunks=1))
    status, lines, error = read_stream(client, STREAM)
    assert (status, lines[-1], error) == (200, "[DONE]", None)
    assert len(server.stats.succeeded) == 1


def test_stream_error_event(client: httpx.Client, server: FakeTogetherServer) -> None:
    """stream_error_event sends chunks, then a data: {"error": ...} event, then ends without [DONE]."""
    server.script(Fault("stream_error_event", after_chunks=3))
    status, lines, error = read_stream(client, STREAM)
    assert (status, len(lines), error) == (200, 4, None)
    assert json.loads(lines[-1])["error"]["type"] == "server_error"
    assert "[DONE]" not in lines


def test_stream_faults_on_json_requests_degrade(client: httpx.Client, server: FakeTogetherServer) -> None:
    """On a JSON request, stream_error_event is a 500, stream_cut breaks the body, stream_stall still completes."""
    server.script("stream_error_event", "stream_cut", Fault("stream_stall", delay=0.01))
    assert client.post("/chat/completions", json=BODY).status_code == 500
    with pytest.raises(BROKEN):
        client.post("/chat/completions", json=BODY)
    assert client.post("/chat/completions", json=BODY).json()["choices"][0]["message"]["content"] == "a b c d"


def test_scripted_faults_come_in_order(client: httpx.Client, server: FakeTogetherServer) -> None:
    """Scripted faults apply to the next requests in order, then answers are normal again."""
    server.script("server_error:502", "ok", "rate_limit", "html_error")
    statuses = [client.post("/chat/completions", json=BODY).status_code for _ in range(5)]
    assert statuses == [502, 200, 429, 503, 200]
    assert dict(server.stats.by_fault) == {"server_error": 1, "ok": 2, "rate_limit": 1, "html_error": 1}


def run_seeded(seed: int) -> list[int]:
    """Statuses of 60 sequential requests against a server with random 502s and 429s."""
    rates = {"server_error:502": 0.25, "rate_limit": 0.25}
    with FakeTogetherServer(seed=seed, fault_rates=rates) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        return [c.post("/chat/completions", json=BODY).status_code for _ in range(60)]


def test_random_faults_are_reproducible_by_seed() -> None:
    """The same seed replays the same faults; another seed gives another sequence; all three outcomes occur."""
    first, again, other = run_seeded(11), run_seeded(11), run_seeded(12)
    assert first == again
    assert first != other
    assert {200, 429, 502} == set(first)
