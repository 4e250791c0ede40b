"""The batch preflight against pytest-httpx: an unlisted model stops the run with no chat request; a failing
/models only warns and the rows are sent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock
from rich.console import Console

from tests import bodies
from tests.conftest import API_KEY, BASE_URL, CHAT_URL
from wrapper.cli._job import BatchJob, run_job

MODELS_URL = f"{BASE_URL}/models"
SEVEN = "Qwen/Qwen2.5-7B-Instruct-Turbo"


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key, an in-memory ledger, no limiter, the listing cache in the test's folder."""
    monkeypatch.chdir(tmp_path)
    for name, value in {"TOGETHER_API_KEY": API_KEY, "TOGETHER_LEDGER_URL": "memory", "TOGETHER_MAX_RETRIES": "0",
                        "TOGETHER_RATE_LIMIT_RPM": "none", "XDG_CACHE_HOME": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": f"r{i}", "prompt": "hi"}) + "\n" for i in range(3)))


def _run(tmp_path: Path) -> tuple[int, str]:
    shown = io.StringIO()
    job = BatchJob(input=tmp_path / "in.jsonl", output=tmp_path / "out.jsonl", yes=True, concurrency=1)
    code = run_job(job, Console(file=shown, width=200), interactive=False, show_progress=False).code
    return code, shown.getvalue()


def test_unlisted_model_stops_before_any_chat_request(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    """The default model is missing from /models: exit 7, the closest served chat model and its price, 0 chat
    requests (pytest-httpx would fail on any)."""
    httpx_mock.add_response(url=MODELS_URL, json=[{"id": SEVEN, "type": "chat",
                                                   "pricing": {"input": 0.3, "output": 0.3}}])
    code, shown = _run(tmp_path)
    assert 7 == code, shown
    assert f"{SEVEN} ($0.3 in / $0.3 out per 1M tokens)" in shown
    assert ["GET"] == [r.method for r in httpx_mock.get_requests()]


def test_failing_models_warns_and_sends_the_rows(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    """/models answering 503 is a warning; the three rows are sent and done."""
    httpx_mock.add_response(url=MODELS_URL, status_code=503, json=bodies.error("down", "server_error"))
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), is_reusable=True)
    code, shown = _run(tmp_path)
    assert 0 == code, shown
    assert "warning: GET /models failed" in shown
    assert 3 == sum(r.method == "POST" for r in httpx_mock.get_requests())
