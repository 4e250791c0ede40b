"""Integration tests of the small CLI commands (chat, models, costs, dashboard) against the loopback fake server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from wrapper.cli import app
from wrapper.testing import FakeTogetherServer


@pytest.fixture
def server() -> Iterator[FakeTogetherServer]:
    with FakeTogetherServer(seed=5, stream_chunks=4) as srv:
        yield srv


@pytest.fixture
def env(server: FakeTogetherServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's configuration for these tests, in an empty working folder."""
    monkeypatch.chdir(tmp_path)
    return {"TOGETHER_API_KEY": "sk-tools-test-0123", "TOGETHER_BASE_URL": server.url,
            "TOGETHER_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "TOGETHER_RATE_LIMIT_RPM": "none",
            "COLUMNS": "200"}


def invoke(args: list[str], env: dict[str, str]) -> Result:
    """Run the CLI in-process."""
    return CliRunner().invoke(app, args, env=env)


def run_batch(tmp_path: Path, env: dict[str, str], count: int, run_id: str) -> None:
    """Put ``count`` charged rows in the ledger under ``run_id``."""
    (tmp_path / f"{run_id}.jsonl").write_text("".join(json.dumps({"id": i, "prompt": f"p {i}"}) + "\n"
                                                      for i in range(count)))
    result = invoke(["batch", f"{run_id}.jsonl", "--out", f"{run_id}.out.jsonl", "--yes", "--run-id", run_id], env)
    assert result.exit_code == 0, result.output


def test_chat_streams_the_answer(server: FakeTogetherServer, env: dict[str, str]) -> None:
    """``chat`` prints the whole streamed answer and its usage, over one streamed request."""
    result = invoke(["chat", "alpha beta gamma delta"], env)
    assert result.exit_code == 0, result.output
    assert "alpha beta gamma delta" in result.stdout
    assert "tokens in" in result.output
    assert [r.stream for r in server.stats.requests] == [True]


def test_models_lists_prices(env: dict[str, str]) -> None:
    """``models`` shows each model with its input and output price per 1M tokens; --json gives the raw list."""
    result = invoke(["models"], env)
    assert result.exit_code == 0, result.output
    assert "Qwen/Qwen2.5-32B-Instruct-Turbo" in result.output and "0.8" in result.output
    listed = json.loads(invoke(["models", "--json"], env).stdout)
    assert {m["id"]: m["pricing"]["input"] for m in listed}["Qwen/Qwen2.5-7B-Instruct-Turbo"] == 0.3


def test_costs_totals_by_model_day_and_run(tmp_path: Path, env: dict[str, str]) -> None:
    """``costs`` groups the ledger by model, day and run; --json/--csv export exact totals on stdout."""
    run_batch(tmp_path, env, 3, "run-a")
    run_batch(tmp_path, env, 2, "run-b")
    table = invoke(["costs"], env)
    assert table.exit_code == 0, table.output
    assert all(word in table.output for word in ("by model", "by day", "by run", "run-a", "run-b", "total spent"))
    by_run = json.loads(invoke(["costs", "--json", "--by", "run"], env).stdout)
    assert {t["key"]: t["ok"] for t in by_run} == {"run-a": 3, "run-b": 2}
    rows = list(csv.DictReader(io.StringIO(invoke(["costs", "--csv", "--rows", "--run", "run-b"], env).stdout)))
    assert [r["outcome"] for r in rows] == ["ok", "ok"]


def test_costs_refuses_two_formats(env: dict[str, str]) -> None:
    """Asking for CSV and JSON at once is a usage error."""
    assert invoke(["costs", "--csv", "--json"], env).exit_code == 2


def test_dashboard_is_written_from_the_ledger(tmp_path: Path, env: dict[str, str]) -> None:
    """``dashboard --out`` writes a self-contained HTML page from the ledger rows."""
    run_batch(tmp_path, env, 2, "run-d")
    result = invoke(["dashboard", "--out", "report.html", "--title", "Stage 1"], env)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "Stage 1" in page and "2 ledger rows" in page
    assert "src=\"http" not in page and "href=\"http" not in page  # offline: nothing fetched


def test_costs_needs_no_key(tmp_path: Path, env: dict[str, str]) -> None:
    """``costs`` only reads the ledger: it works without TOGETHER_API_KEY."""
    run_batch(tmp_path, env, 1, "run-k")
    del env["TOGETHER_API_KEY"]
    result = invoke(["costs", "--by", "run"], env)
    assert result.exit_code == 0, result.output
    assert "run-k" in result.output
