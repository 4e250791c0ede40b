"""Every symptom in docs/troubleshooting.md is real: each entry's case is triggered and its fragments must appear.

The page is parsed: each ``## Title {#id}`` entry's *Symptom* paragraph lists code spans; the trigger of the same
id (below) causes that failure for real — against the loopback fake Together server, pytest-httpx, a closed
loopback port, a throwaway TLS server, or the CLI in a subprocess — and returns what a user would see (the
exception as ``Type: message``, log lines, CLI output). When a message changes, its entry fails here; when an
entry has no trigger or a trigger no entry, ``test_every_entry_has_a_trigger`` fails.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx
import pytest
import trustme
from loguru import logger
from pytest_httpx import HTTPXMock

from tests.docs.doctools import ROOT
from wrapper import Client
from wrapper.testing import FakeTogetherServer

DOC = ROOT / "docs" / "troubleshooting.md"
USER = [{"role": "user", "content": "Name the capital of France."}]
KEY = "sk-docs-0123456789abcdef0123456789abcdef"
CHAT = "https://api.together.xyz/v1/chat/completions"


@attrs.frozen
class Entry:
    """One entry of the guide: its anchor, heading and the fragments its Symptom paragraph quotes."""

    id: str
    title: str
    fragments: tuple[str, ...]


def _squash(text: str) -> str:
    return " ".join(text.split())


def parse_entries(text: str) -> list[Entry]:
    """Every ``## Title {#id}`` section and the code spans of its ``**Symptom**`` paragraph."""
    entries = []
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        found = re.fullmatch(r"(.*?)\s*\{#([a-z0-9-]+)\}\s*", heading)
        assert found, f"entry heading without an {{#id}}: {heading!r}"
        paragraphs = re.split(r"\n\s*\n", body)
        symptom = next((p for p in paragraphs if p.strip().startswith("**Symptom**")), "")
        spans = tuple(_squash(s) for s in re.findall(r"`([^`]+)`", _squash(symptom)))
        entries.append(Entry(found[2], found[1], spans))
    return entries


ENTRIES = parse_entries(DOC.read_text(encoding="utf-8"))


@attrs.frozen
class Seen:
    """What the user saw: text (exception line, logs, CLI output) and, for the CLI, the exit code."""

    text: str
    exit_code: int | None = None


@attrs.define
class Ctx:
    """What a trigger may use."""

    server: FakeTogetherServer
    tmp: Path
    request: pytest.FixtureRequest
    sqlite_job: subprocess.Popen[str]

    def mock(self) -> HTTPXMock:
        """pytest-httpx, only for the entries that need it (it would also catch calls to the fake server)."""
        fixture: HTTPXMock = self.request.getfixturevalue("httpx_mock")
        return fixture

    def client(self, **overrides: Any) -> Client:
        """A client on the fake server: no limiter, an in-memory ledger, short retry waits."""
        values: dict[str, Any] = {"api_key": KEY, "base_url": self.server.url, "ledger_url": "memory",
                                  "rate_limit_rpm": None, "retry_base": 0.01}
        values.update(overrides)
        return Client(**values)


def _raised(call: Callable[[], object]) -> str:
    """``Type: message`` of what ``call`` raised (fails the test when it raised nothing)."""
    try:
        call()
    except Exception as exc:  # the point: show what the user sees
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected an exception")


@contextmanager
def _logs() -> Iterator[list[str]]:
    """The SDK's log messages while the block runs (the same records enable_json_logs prints)."""
    lines: list[str] = []
    logger.enable("wrapper")
    sink = logger.add(lambda m: lines.append(str(m)), format="{message}", level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink)
        logger.disable("wrapper")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _create(client: Client, **params: Any) -> object:
    params.setdefault("max_tokens", 16)
    with client:
        return client.chat.completions.create(messages=USER, **params)


def _cli(ctx: Ctx, *args: str, extra_env: dict[str, str] | None = None) -> Seen:
    """``together-wrapper ARGS`` in a subprocess on the fake server, without a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_") and k not in (
        "MAX_ESTIMATED_COST", "CONFIRM_ABOVE_COST")}
    env.update({"TOGETHER_API_KEY": KEY, "TOGETHER_BASE_URL": ctx.server.url, "TOGETHER_LEDGER_URL": "memory",
                "TOGETHER_RATE_LIMIT_RPM": "none", "COLUMNS": "200", "NO_COLOR": "1"})
    env.update(extra_env or {})
    done = subprocess.run([sys.executable, "-m", "wrapper", *args], cwd=ctx.tmp, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, check=False)
    return Seen(done.stdout + done.stderr, done.returncode)


def _rows(ctx: Ctx, n: int) -> str:
    path = ctx.tmp / "input.jsonl"
    path.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(n)))
    return str(path)


def _error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


# ------------------------------------------------------------------------------------------------ triggers
def missing_api_key(ctx: Ctx) -> Seen:
    return Seen(_raised(lambda: Client(base_url=ctx.server.url, ledger_url="memory", env_dir=ctx.tmp)))


def invalid_api_key(ctx: Ctx) -> Seen:
    ctx.mock().add_response(method="POST", url=CHAT, status_code=401, json=_error_body(
        "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
        "invalid_request_error", "invalid_api_key"))
    client = Client(api_key=KEY, ledger_url="memory", rate_limit_rpm=None, transport=httpx.HTTPTransport())
    text = _raised(lambda: _create(client))
    assert "attempts=" not in text  # 401 is never retried
    return Seen(text)


def api_key_characters(ctx: Ctx) -> Seen:
    inner_space = _raised(lambda: ctx.client(api_key="sk-0123 4567\n"))
    curly_quotes = _raised(lambda: ctx.client(api_key="\u201csk-01234567\u201d"))
    ctx.client(api_key="  sk-01234567\n").close()  # surrounding whitespace is stripped, as the entry says
    assert "sk-0123" not in inner_space + curly_quotes  # the key is never shown
    return Seen(f"{inner_space}\n{curly_quotes}")


def out_of_credit_402(ctx: Ctx) -> Seen:
    ctx.mock().add_response(method="POST", url=CHAT, status_code=402, json=_error_body(
        "Insufficient balance: please add credit to continue.", "invalid_request_error", "insufficient_balance"))
    client = Client(api_key=KEY, ledger_url="memory", rate_limit_rpm=None, transport=httpx.HTTPTransport())
    text = _raised(lambda: _create(client))
    assert "attempts=" not in text  # 402 is never retried
    return Seen(text)


def credit_limit_429(ctx: Ctx) -> Seen:
    ctx.mock().add_response(method="POST", url=CHAT, status_code=429, json=_error_body(
        "Credit limit exceeded for this account.", "credit_limit"))
    client = Client(api_key=KEY, ledger_url="memory", rate_limit_rpm=None, retry_base=0.01,
                    transport=httpx.HTTPTransport())
    try:
        _create(client)
    except Exception as exc:
        assert "credit_limit" == getattr(exc, "type", None)
        assert "attempts=" not in str(exc)  # never retried
        return Seen(f"{type(exc).__name__}: {exc}")
    raise AssertionError("expected an exception")


def rate_limit_storm(ctx: Ctx) -> Seen:
    ctx.server.script(*["rate_limit"] * 4)
    with _logs() as lines:
        text = _raised(lambda: _create(ctx.client(rate_limit_rpm=6000)))  # the limiter is what slows down
    return Seen("\n".join([text, *lines]))


def model_not_available(ctx: Ctx) -> Seen:
    return Seen(_raised(lambda: _create(ctx.client(), model="retired/old-model")))


def budget_exceeded(ctx: Ctx) -> Seen:
    return Seen(_raised(lambda: _create(ctx.client(max_estimated_cost="0.0001"), max_tokens=1000)))


def confirmation_required(ctx: Ctx) -> Seen:
    text = _raised(lambda: _create(ctx.client(confirm_above_cost="0.0001"), max_tokens=1000))
    approve: Callable[[Decimal, str], bool] = lambda cost, model: cost < Decimal("0.50")  # noqa: E731
    _create(ctx.client(confirm_above_cost="0.0001", confirm=approve), max_tokens=1000)  # the documented fix
    return Seen(text)


def batch_invalid_rows(ctx: Ctx) -> Seen:
    path = ctx.tmp / "input.jsonl"
    path.write_text('{"id": "r1", "prompt": "fine"}\n{"id": "r2"}\n{"id": "r3", "prompt": "fine", "colour": 1}\n')
    return _cli(ctx, "batch", str(path), "--out", "out.jsonl", "--yes")


def batch_not_confirmed(ctx: Ctx) -> Seen:
    return _cli(ctx, "batch", _rows(ctx, 3), "--out", "out.jsonl")


def batch_model_not_served(ctx: Ctx) -> Seen:
    return _cli(ctx, "batch", _rows(ctx, 2), "--out", "out.jsonl", "--yes", "--model", "retired/old-model")


def batch_budget_reached(ctx: Ctx) -> Seen:
    return _cli(ctx, "batch", _rows(ctx, 6), "--out", "out.jsonl", "--yes", "--concurrency", "1",
                "--max-tokens", "1000", "--max-cost", "0.0005")


def circuit_open(ctx: Ctx) -> Seen:
    ctx.server.script("server_error:503", "server_error:503")
    client = ctx.client(max_retries=0, breaker_failures=2)
    with client:
        for _ in range(2):
            _raised(lambda: client.chat.completions.create(messages=USER, max_tokens=8))
        before = ctx.server.stats.total
        text = _raised(lambda: client.chat.completions.create(messages=USER, max_tokens=8))
    assert before == ctx.server.stats.total  # failed fast: nothing was sent
    return Seen(text)


def local_rate_limit_timeout(ctx: Ctx) -> Seen:
    with ctx.client(rate_limit_rpm=1, rate_limit_max_wait=0.2) as client:
        client.chat.completions.create(messages=USER, max_tokens=8)
        return Seen(_raised(lambda: client.chat.completions.create(messages=USER, max_tokens=8)))


def read_timeout(ctx: Ctx) -> Seen:
    ctx.server.script("latency")
    return Seen(_raised(lambda: _create(ctx.client(max_retries=0, timeout=0.1))))


def stream_stalled(ctx: Ctx) -> Seen:
    ctx.server.script("stream_stall")

    def read() -> None:
        with ctx.client(max_retries=0, stream_idle_timeout=0.1) as client:
            with client.chat.completions.create(messages=USER, max_tokens=16, stream=True) as stream:
                for _ in stream:
                    pass

    return Seen(_raised(read))


def stream_cut(ctx: Ctx) -> Seen:
    ctx.server.script("stream_cut")

    def read() -> None:
        with ctx.client(max_retries=0) as client:
            client.chat.completions.create(messages=USER, max_tokens=16, stream=True).text()

    return Seen(_raised(read))


def uncertain_charges(ctx: Ctx) -> Seen:
    ctx.server.script("latency")
    with _logs() as lines, ctx.client(max_retries=0, timeout=0.1) as client:
        _raised(lambda: client.chat.completions.create(messages=USER, max_tokens=16))
        outcomes = [row.outcome for row in client.ledger.rows()]
        summary = client.ledger.summary()
    assert "uncertain" in outcomes
    assert summary.uncertain > 0
    return Seen("\n".join(lines))


def batch_resume(ctx: Ctx) -> Seen:
    first = _cli(ctx, "batch", _rows(ctx, 3), "--out", "out.jsonl", "--yes")
    assert 0 == first.exit_code, first.text
    with (ctx.tmp / "out.jsonl").open("a") as out:
        out.write('{"id": "r3", "text": "half a li')  # what a crash mid-write leaves
    again = _cli(ctx, "batch", _rows(ctx, 3), "--out", "out.jsonl", "--yes")
    assert 0 == again.exit_code, again.text
    return again


_LOCK_SCRIPT = """
import sqlite3, sys
from wrapper import Client
path = sys.argv[1]
settings = dict(api_key="sk-docs-lock", base_url="http://127.0.0.1:9/v1", ledger_url="sqlite:///" + path,
                rate_limit_rpm=None, max_retries=0)
Client(**settings).close()                   # the ledger file exists
holder = sqlite3.connect(path, isolation_level=None)
holder.execute("BEGIN IMMEDIATE")            # another process holds the write lock (a stuck job, a shell)
try:
    with Client(**settings) as client:
        client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


def sqlite_locked(ctx: Ctx) -> Seen:
    out, err = ctx.sqlite_job.communicate(timeout=180)
    return Seen(out + err)


def redis_unreachable(ctx: Ctx) -> Seen:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    return Seen(_raised(lambda: ctx.client(rate_limit_rpm=100, rate_limit_backend=url)))


def postgres_unreachable(ctx: Ctx) -> Seen:
    url = f"postgresql://root@127.0.0.1:{_closed_port()}/test"
    return Seen(_raised(lambda: ctx.client(ledger_url=url)))


def proxy(ctx: Ctx) -> Seen:
    closed = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch: pytest.MonkeyPatch = ctx.request.getfixturevalue("monkeypatch")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, closed)
    # the proxy variables are honoured: the call goes to the (closed) proxy, never out to Together
    client = ctx.client(max_retries=0, base_url="https://api.together.xyz/v1")
    return Seen(_raised(lambda: _create(client)))


_COMPLETION = json.dumps({
    "id": "tls-1", "object": "chat.completion", "created": 1, "model": "Qwen/Qwen2.5-32B-Instruct-Turbo",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}).encode()


class _Completion(http.server.BaseHTTPRequestHandler):
    """Answers every POST with ``status`` and ``body``: a completion by default."""

    status: ClassVar[int] = 200
    body: ClassVar[bytes] = _COMPLETION

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def do_GET(self) -> None:
        """``GET /models`` (the batch preflight): the default model, served."""
        listing = json.dumps([{"id": "Qwen/Qwen2.5-32B-Instruct-Turbo", "type": "chat",
                               "pricing": {"input": 0.8, "output": 0.8}}]).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(listing)))
        self.end_headers()
        self.wfile.write(listing)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _OutOfCredit(_Completion):
    status = 429
    body = json.dumps(_error_body("Credit limit exceeded for this account.", "credit_limit")).encode()


def batch_out_of_credit(ctx: Ctx) -> Seen:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OutOfCredit)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        seen = _cli(ctx, "batch", _rows(ctx, 6), "--out", "out.jsonl", "--yes", "--concurrency", "1",
                    extra_env={"TOGETHER_BASE_URL": base})
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert re.search(r"requests\W+1 \(0 retries", seen.text), seen.text  # stopped at the first answer
    return seen


def custom_ca(ctx: Ctx) -> Seen:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Completion)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"https://127.0.0.1:{httpd.server_address[1]}/v1"
        seen = _raised(lambda: _create(ctx.client(base_url=base, max_retries=0)))
        diagnosis = _raised(lambda: httpx.get(f"{base}/models"))
        cafile = ctx.tmp / "corporate-root.pem"
        ca.cert_pem.write_to_path(str(cafile))
        context = ssl.create_default_context(cafile=str(cafile))
        reply = _create(ctx.client(base_url=base, transport=httpx.HTTPTransport(verify=context)))
        assert "Paris" in repr(reply)  # the documented fix works
        monkeypatch: pytest.MonkeyPatch = ctx.request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("SSL_CERT_FILE", str(cafile))
        assert "Paris" in repr(_create(ctx.client(base_url=base)))  # and so does SSL_CERT_FILE
    finally:
        httpd.shutdown()
        httpd.server_close()
    return Seen(f"{seen}\n{diagnosis}")


_LOG_SCRIPT = """
import sys
import wrapper
from wrapper import Client
from wrapper.testing import FakeTogetherServer
with FakeTogetherServer() as server:
    settings = dict(api_key="sk-docs-logs", base_url=server.url, ledger_url="memory", rate_limit_rpm=None,
                    retry_base=0.01)
    server.script("server_error:503")
    with Client(**settings) as client:
        client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    print("=== logs on", file=sys.stderr, flush=True)
    wrapper.enable_json_logs()
    server.script("server_error:503")
    with Client(**settings) as client:
        client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
"""


def no_log_output_at_all(ctx: Ctx) -> Seen:
    done = subprocess.run([sys.executable, "-c", _LOG_SCRIPT], capture_output=True, text=True, timeout=120,
                          check=True, cwd=ctx.tmp)
    quiet, _, loud = done.stderr.partition("=== logs on")
    assert "" == quiet.strip()  # quiet by default
    messages = [json.loads(line)["record"]["message"] for line in loud.splitlines() if line.startswith("{")]
    return Seen("\n".join(messages))


TRIGGERS: dict[str, Callable[[Ctx], Seen]] = {
    "missing-api-key": missing_api_key,
    "invalid-api-key": invalid_api_key,
    "api-key-characters": api_key_characters,
    "out-of-credit-402": out_of_credit_402,
    "credit-limit-429": credit_limit_429,
    "rate-limit-storm": rate_limit_storm,
    "model-not-available": model_not_available,
    "budget-exceeded": budget_exceeded,
    "confirmation-required": confirmation_required,
    "batch-invalid-rows": batch_invalid_rows,
    "batch-not-confirmed": batch_not_confirmed,
    "batch-budget-reached": batch_budget_reached,
    "batch-out-of-credit": batch_out_of_credit,
    "batch-model-not-served": batch_model_not_served,
    "circuit-open": circuit_open,
    "local-rate-limit-timeout": local_rate_limit_timeout,
    "read-timeout": read_timeout,
    "stream-stalled": stream_stalled,
    "stream-cut": stream_cut,
    "uncertain-charges": uncertain_charges,
    "batch-resume": batch_resume,
    "sqlite-locked": sqlite_locked,
    "redis-unreachable": redis_unreachable,
    "postgres-unreachable": postgres_unreachable,
    "proxy": proxy,
    "custom-ca": custom_ca,
    "no-log-output-at-all": no_log_output_at_all,
}


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def server() -> Iterator[FakeTogetherServer]:
    """One fake server for the module; each test clears its stats and scripted faults."""
    with FakeTogetherServer(unavailable_models=["retired/old-model"], fault_delay=1.0) as fake:
        yield fake


@pytest.fixture(scope="module")
def sqlite_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """The SQLite lock case waits out SQLite's 30 s busy timeout, so it starts first and runs alongside."""
    path = tmp_path_factory.mktemp("locked") / "ledger.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    job = subprocess.Popen([sys.executable, "-c", _LOCK_SCRIPT, str(path)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    yield job
    if job.poll() is None:
        job.kill()
        job.communicate()


# ------------------------------------------------------------------------------------------------ tests
def test_every_entry_has_a_trigger() -> None:
    """The guide's entries and this file's triggers name the same cases, and every entry quotes a symptom."""
    assert sorted(TRIGGERS) == sorted(e.id for e in ENTRIES)
    assert [] == [e.id for e in ENTRIES if not e.fragments]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_documented_symptom_is_what_the_user_sees(
    entry: Entry, server: FakeTogetherServer, sqlite_job: subprocess.Popen[str], tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Triggering the entry's failure for real shows every fragment its Symptom line quotes (and, for a CLI
    entry titled 'exits with N', that exit code)."""
    server.clear()
    seen = TRIGGERS[entry.id](Ctx(server, tmp_path, request, sqlite_job))
    observed = _squash(seen.text)
    missing = [f for f in entry.fragments if f != "…" and f not in observed]
    assert [] == missing, f"not in what the user sees:\n{seen.text}"
    code = re.search(r"exits with (\d+)", entry.title)
    if code:
        assert int(code[1]) == seen.exit_code, seen.text

