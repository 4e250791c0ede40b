"""Every example in docs/patterns.md runs: each file in docs/examples/ is executed against the loopback fake server.

docs/patterns.md includes the files verbatim (pymdownx.snippets), so what is shown is what runs here. Each example
runs in its own process, configured only by environment variables (TOGETHER_BASE_URL points at the fake server,
any non-empty key), as a user would run it; nothing talks to the real API.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.docs.doctools import ROOT
from wrapper.testing import FakeTogetherServer

EXAMPLES = ROOT / "docs" / "examples"
PATTERNS = ROOT / "docs" / "patterns.md"
REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://root@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTogetherServer]:
    """One fake Together server for every example."""
    with FakeTogetherServer(stream_chunks=6) as fake:
        yield fake


def example_env(server: FakeTogetherServer, tmp: Path, **extra: str) -> dict[str, str]:
    """A user's environment: the fake server as base URL, a key, a ledger and caches in ``tmp``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TOGETHER_") and k not in ("MAX_ESTIMATED_COST", "CONFIRM_ABOVE_COST")}
    env.update({
        "TOGETHER_API_KEY": "sk-docs-example", "TOGETHER_BASE_URL": server.url,
        "TOGETHER_LEDGER_URL": f"sqlite:///{tmp / 'ledger.db'}", "TOGETHER_RATE_LIMIT_RPM": "6000",
        "XDG_DATA_HOME": str(tmp / "data"), "XDG_CACHE_HOME": str(tmp / "cache"), "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def run(name: str, env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    """Run ``docs/examples/NAME`` like a user would; fail with its output unless it exits 0."""
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=180, check=False)
    assert 0 == done.returncode, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_every_example_is_shown_and_run() -> None:
    """Each docs/examples/*.py is included in patterns.md and has a test here named after it."""
    page = PATTERNS.read_text(encoding="utf-8")
    files = sorted(p.name for p in EXAMPLES.glob("*.py"))
    included = sorted(re.findall(r'--8<-- "docs/examples/([a-z_]+\.py)"', page))
    assert files == included
    stems = [name[len("test_"):] for name in globals() if name.startswith("test_")]
    tested = sorted(f for stem in stems for f in (f"{stem}.py", f"test_{stem}.py") if (EXAMPLES / f).exists())
    assert files == tested


def test_examples_pass_mypy_strict() -> None:
    """The examples are typed user code: mypy --strict accepts them against the public API."""
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
                           str(EXAMPLES)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert 0 == done.returncode, done.stdout + done.stderr


def test_sync_basic(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Sync: one answer, its tokens and the run's spending."""
    out = run("sync_basic.py", example_env(server, tmp_path))
    assert "answer:" in out
    assert re.search(r"tokens: \d+ in, \d+ out", out)
    assert "spent so far in run" in out


def test_async_bounded(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Async: 20 prompts through a semaphore of 8, never more than 8 requests open at once."""
    server.clear()
    out = run("async_bounded.py", example_env(server, tmp_path))
    assert "20 ok, 0 failed" in out
    assert 20 == server.stats.total


def test_streaming_terminal(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Streaming: the text arrives chunk by chunk, then the usage line; a cut stream exits 1 with a message."""
    out = run("streaming_terminal.py", example_env(server, tmp_path), "Say hello.")
    assert re.search(r"\[\d+ tokens in, \d+ out\]", out)
    server.script("stream_cut")
    done = subprocess.run([sys.executable, str(EXAMPLES / "streaming_terminal.py")],
                          env=example_env(server, tmp_path, TOGETHER_MAX_RETRIES="0"), capture_output=True,
                          text=True, timeout=120, check=False)
    assert 1 == done.returncode
    assert "[stream failed:" in done.stderr


def test_batch_from_python(server: FakeTogetherServer, tmp_path: Path) -> None:
    """The batch writes every row, resumes after a torn line without resending, and stops at the budget."""
    rows = tmp_path / "input.jsonl"
    rows.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(12)))
    results = tmp_path / "results.jsonl"
    env = example_env(server, tmp_path)
    server.script("server_error:503", "rate_limit")  # retried inside the SDK: every row still lands
    out = run("batch_from_python.py", env, str(rows), str(results), "1.00")
    assert "done 12 of 12, failed 0" in out
    with results.open("a") as file:
        file.write('{"id": "r99", "te')  # a crash mid-write
    server.clear()
    out = run("batch_from_python.py", env, str(rows), str(results))
    assert "removed a torn last line left by a crash" in out
    assert "12 already done, 0 to send" in out
    assert 0 == server.stats.total  # nothing paid twice
    done = subprocess.run([sys.executable, str(EXAMPLES / "batch_from_python.py"), str(rows),
                           str(tmp_path / "small.jsonl"), "0.0001"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert 1 == done.returncode
    assert "stopping: BudgetExceededError" in done.stdout


def _cleanup_fleet(schema: str, key: str) -> tuple[bool, int]:
    """Drop the test's schema and delete its Redis keys; say whether the schema existed and how many keys."""
    import psycopg
    import redis

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        existed = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    store = redis.Redis.from_url(REDIS_URL)
    deleted = 0
    try:
        for found in store.scan_iter(match=f"*{key}*"):
            deleted += int(store.delete(found))
    finally:
        store.close()
    return existed, deleted


def _services_up() -> bool:
    try:
        import psycopg
        import redis

        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            pass
        store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            store.ping()
        finally:
            store.close()
    except Exception:
        return False
    return True


@pytest.mark.redis
@pytest.mark.postgres
def test_fleet(server: FakeTogetherServer, tmp_path: Path, ci: bool) -> None:
    """Three processes share the Redis limiter and the PostgreSQL ledger: one run, every call recorded once;
    the schema and keys made for the test are removed afterwards."""
    if not _services_up():
        if ci:
            pytest.fail("Redis and PostgreSQL are needed on 127.0.0.1 under CI")
        pytest.skip("Redis or PostgreSQL is not running on 127.0.0.1")
    tag = uuid.uuid4().hex[:10]
    schema, key, run_id = f"docs_fleet_{tag}", f"docs-fleet-{tag}", f"docs-fleet-{tag}"
    env = example_env(server, tmp_path, TOGETHER_RATE_LIMIT_BACKEND=REDIS_URL, TOGETHER_RATE_LIMIT_KEY=key,
                      TOGETHER_LEDGER_URL=f"{POSTGRES_URL}?schema={schema}", TOGETHER_RUN_ID=run_id,
                      MAX_ESTIMATED_COST="1.00")
    server.clear()
    try:
        out = run("fleet.py", env, "3")
    finally:
        schema_existed, keys_deleted = _cleanup_fleet(schema, key)
    assert schema_existed  # the ledger really was in PostgreSQL
    assert keys_deleted > 0  # and the limiter in Redis
    assert "24 calls by 3 processes" in out
    assert 24 == server.stats.total
    assert f"run {run_id}:" in out
    assert "24 ok of 24 attempts" in out


def test_costs_reports(server: FakeTogetherServer, tmp_path: Path) -> None:
    """After some calls, the reports read the ledger without a key and write CSV, JSON and the dashboard."""
    env = example_env(server, tmp_path)
    run("sync_basic.py", env)
    run("sync_basic.py", env)
    del env["TOGETHER_API_KEY"]  # reading the ledger needs no key
    out = run("costs_reports.py", env, str(tmp_path / "reports"))
    assert re.search(r"2 attempts, 2 ok: \$[0-9.]+ spent", out)
    names = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert ["attempts.csv", "by_day.json", "by_model.csv", "cumulative.csv", "dashboard.html"] == names
    assert "Qwen/Qwen2.5-32B-Instruct-Turbo" in (tmp_path / "reports" / "by_model.csv").read_text()
    assert "<html" in (tmp_path / "reports" / "dashboard.html").read_text().lower()


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def test_metrics_alerts(server: FakeTogetherServer, tmp_path: Path) -> None:
    """A 429 reaches the webhook as a RateLimited alert, and the scrape endpoint serves the request counter."""
    _Webhook.received = []
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=hook.serve_forever, daemon=True)
    thread.start()
    server.script("rate_limit")
    try:
        env = example_env(server, tmp_path, ALERT_WEBHOOK_URL=f"http://127.0.0.1:{hook.server_address[1]}/alert")
        out = run("metrics_alerts.py", env)
    finally:
        hook.shutdown()
        hook.server_close()
    assert "together_requests_total" in out
    assert "6 requests" in out  # 5 calls, one of them retried once after its 429
    assert "RateLimited" in [event["event"] for event in _Webhook.received]


def test_mocking(tmp_path: Path) -> None:
    """The user's-own-tests example passes under pytest with pytest-httpx (no server, no key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(EXAMPLES / "test_mocking.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert 0 == done.returncode, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_examples_pass_ruff() -> None:
    """The examples and the docs helpers follow the project's lint rules (scripts/test.sh lints other folders)."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "docs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert 0 == done.returncode, done.stdout + done.stderr
