"""Integration tests of ``together-wrapper batch`` and ``demo`` against the loopback fake Together server.

The CLI runs in-process (typer's CliRunner), configured only through environment variables as a user's would
be; the runs interrupted by real signals are in test_cli_signals.py.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.integration.cli_support import (
    assert_each_once_and_charged_once,
    env_for,
    invoke,
    ledger_rows,
    read_jsonl,
    write_input,
)
from wrapper.cli import app
from wrapper.cli._job import BatchJob, run_job
from wrapper.testing import FakeTogetherServer
from wrapper.testing._fake_bodies import MODELS


@pytest.fixture
def server() -> Iterator[FakeTogetherServer]:
    # gone/Model is still listed but answers model_not_available (Together's listing lags): past the preflight
    listed = [m[0] for m in MODELS] + ["gone/Model"]
    with FakeTogetherServer(seed=3, unavailable_models=["gone/Model"], served_models=listed) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder, so no developer ``.env`` is read."""
    monkeypatch.chdir(tmp_path)


def test_batch_end_to_end(server: FakeTogetherServer, tmp_path: Path) -> None:
    """A batch writes every row once with text, usage, cost and request id, charges each once, and exits 0."""
    ids = write_input(tmp_path / "in.jsonl", 25)
    result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "4"],
                    env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    assert "total cost expected $" in result.output and ", at most $" in result.output
    assert "batch summary" in result.output
    assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path)
    first = read_jsonl(tmp_path / "out.jsonl")[0]
    assert first["text"].startswith("say r0") and first["finish_reason"] == "stop"
    assert first["usage"]["total_tokens"] > 0 and float(first["cost"]) > 0 and first["request_id"]
    assert read_jsonl(tmp_path / "out.errors.jsonl") == []
    assert server.stats.total == 25


def test_rerun_sends_only_rows_not_done(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Re-running the same command after rows were added sends only the new ones, in the same budget run."""
    write_input(tmp_path / "in.jsonl", 5)
    args = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes"]
    assert invoke(args, env_for(server, tmp_path)).exit_code == 0
    ids = write_input(tmp_path / "in.jsonl", 8)
    result = invoke(args, env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    assert "5 already done" in result.output
    assert server.stats.total == 8
    assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path)
    assert len({r["run_id"] for r in read_jsonl(tmp_path / "out.jsonl")}) == 1


def test_torn_last_line_is_repaired_and_the_row_redone(server: FakeTogetherServer, tmp_path: Path) -> None:
    """A crash's half-written last line is dropped; its row is sent again and the rest are not."""
    ids = write_input(tmp_path / "in.jsonl", 6)
    done = "".join(json.dumps({"id": i, "text": "x", "request_id": f"old-{i}"}) + "\n" for i in ids[:3])
    (tmp_path / "out.jsonl").write_text(done + '{"id": "r003", "te')
    result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes"], env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    assert "torn last line" in result.output
    assert Counter(r["id"] for r in read_jsonl(tmp_path / "out.jsonl")) == Counter(ids)
    assert server.stats.total == 3


def test_invalid_rows_refuse_to_start_with_line_numbers(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Invalid rows are listed by line and nothing is sent (exit 2); --skip-invalid sends the valid rows."""
    lines = ['{"id": 1, "prompt": "a"}', "not json", '{"id": 2, "prompt": "b"}', '{"id": 1, "prompt": "c"}']
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    args = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes"]
    result = invoke(args, env_for(server, tmp_path))
    assert result.exit_code == 2
    assert "not valid JSON" in result.output and "duplicate id (first on line 1)" in result.output
    assert "--skip-invalid" in result.output
    assert (server.stats.total, (tmp_path / "out.jsonl").exists()) == (0, False)
    result = invoke([*args, "--skip-invalid"], env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(r["id"] for r in read_jsonl(tmp_path / "out.jsonl")) == [1, 2]


def test_no_terminal_and_no_yes_refuses_with_exit_3(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Without a terminal and without --yes the run is refused, says how to confirm, and sends nothing."""
    write_input(tmp_path / "in.jsonl", 3)
    result = invoke(["batch", "in.jsonl", "--out", "out.jsonl"], env_for(server, tmp_path))
    assert result.exit_code == 3
    assert "pass --yes to confirm" in result.output
    assert (server.stats.total, (tmp_path / "out.jsonl").exists()) == (0, False)
    below = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--confirm-above", "5"], env_for(server, tmp_path))
    assert below.exit_code == 0, below.output


@pytest.mark.parametrize(("answer", "code", "sent"), [("n\n", 3, 0), ("y\n", 0, 2)])
def test_a_person_confirms_or_declines(server: FakeTogetherServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       answer: str, code: int, sent: int) -> None:
    """At a terminal the y/N answer decides: no sends nothing (exit 3), yes runs the batch."""
    for name, value in env_for(server, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    write_input(tmp_path / "in.jsonl", 2)
    job = BatchJob(input=tmp_path / "in.jsonl", output=tmp_path / "out.jsonl")
    shown = io.StringIO()
    assert code == run_job(job, Console(file=shown, width=200), interactive=True).code
    assert "Send 2 requests, expected $" in shown.getvalue() and ", at most $" in shown.getvalue()
    assert server.stats.total == sent


def test_budget_stop_exits_4_and_a_larger_budget_resumes(server: FakeTogetherServer, tmp_path: Path) -> None:
    """When the budget refuses a reservation no new row starts (exit 4); a resume with more budget finishes."""
    ids = write_input(tmp_path / "in.jsonl", 20)
    args = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--max-tokens", "1000", "--concurrency", "4"]
    result = invoke([*args, "--max-cost", "0.002"], env_for(server, tmp_path))
    assert result.exit_code == 4, result.output
    assert "budget reached" in result.output
    done = len(read_jsonl(tmp_path / "out.jsonl"))
    assert 1 <= done < 20 and server.stats.total == done
    result = invoke([*args, "--max-cost", "1"], env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path)


def test_failed_rows_go_to_the_errors_file_and_exit_1(server: FakeTogetherServer, tmp_path: Path) -> None:
    """A row the API refuses is written to the errors file with its typed reason; the others finish; exit 1."""
    rows = [{"id": "good", "prompt": "a"}, {"id": "bad", "prompt": "b", "model": "gone/Model"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes"], env_for(server, tmp_path))
    assert result.exit_code == 1, result.output
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["good"]
    (error,) = read_jsonl(tmp_path / "out.errors.jsonl")
    assert (error["id"], error["error_type"], error["status"], error["code"]) == (
        "bad", "ModelNotAvailableError", 400, "model_not_available")
    assert error["request_id"] and error["line"] == 2


def test_breaker_open_longer_than_patience_stops_the_run(tmp_path: Path) -> None:
    """When every answer is a 503 the breaker opens; once open longer than the patience, no new row starts."""
    with FakeTogetherServer(seed=1, fault_rates={"server_error:503": 1.0}) as failing:
        write_input(tmp_path / "in.jsonl", 10)
        env = env_for(failing, tmp_path, TOGETHER_MAX_RETRIES="0", TOGETHER_BREAKER_FAILURES="2",
                      TOGETHER_BREAKER_RECOVERY="60")
        result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "1",
                         "--breaker-patience", "0.2"], env)
        assert result.exit_code == 1, result.output
        assert "stopped (breaker)" in result.output
        # the first row failed for good; the second one's 503 opened the breaker, so it waits, left not done
        assert [e["id"] for e in read_jsonl(tmp_path / "out.errors.jsonl")] == ["r000"]
        assert failing.stats.total == 2


def test_a_row_whose_failure_opens_the_breaker_is_tried_again(server: FakeTogetherServer, tmp_path: Path) -> None:
    """When the client stops retrying because the breaker opened, the row waits for the probe instead of failing."""
    ids = write_input(tmp_path / "in.jsonl", 5)
    server.script("ok", "server_error:503", "server_error:503")
    env = env_for(server, tmp_path, TOGETHER_BREAKER_FAILURES="2", TOGETHER_BREAKER_RECOVERY="0.3")
    result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "1"], env)
    assert result.exit_code == 0, result.output
    assert "circuit for" in result.output
    assert read_jsonl(tmp_path / "out.errors.jsonl") == []
    assert Counter(r["id"] for r in read_jsonl(tmp_path / "out.jsonl")) == Counter(ids)
    assert server.stats.total == 7


def test_workers_take_turns_while_the_circuit_is_open(tmp_path: Path) -> None:
    """While a circuit is open the workers wait instead of all knocking: few refused calls, none sent."""
    with FakeTogetherServer(seed=1, fault_rates={"server_error:503": 1.0}) as failing:
        write_input(tmp_path / "in.jsonl", 40)
        env = env_for(failing, tmp_path, TOGETHER_MAX_RETRIES="0", TOGETHER_BREAKER_FAILURES="2",
                      TOGETHER_BREAKER_RECOVERY="60")
        result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "8",
                         "--breaker-patience", "1"], env)
        assert result.exit_code == 1, result.output
        refused = [r for r in ledger_rows(tmp_path) if r.error_type == "CircuitOpenError"]
        assert 1 <= len(refused) <= 8 + 1 / 0.25 + 2  # the first wave, then one try per 0.25 s (not 8 per 50 ms)
        assert len(read_jsonl(tmp_path / "out.errors.jsonl")) <= failing.stats.total <= 8 + 2  # before it opened


def test_shards_partition_the_rows(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Three machines with --shard 1/3, 2/3, 3/3 together send every row exactly once."""
    ids = write_input(tmp_path / "in.jsonl", 30)
    sent: list[str] = []
    for i in (1, 2, 3):
        result = invoke(["batch", "in.jsonl", "--out", f"out{i}.jsonl", "--yes", "--shard", f"{i}/3"],
                        env_for(server, tmp_path))
        assert result.exit_code == 0, result.output
        part = [r["id"] for r in read_jsonl(tmp_path / f"out{i}.jsonl")]
        assert part, f"shard {i} is empty"
        sent += part
    assert Counter(sent) == Counter(ids)
    assert server.stats.total == 30


@pytest.mark.parametrize("args", [["batch", "in.jsonl"], ["batch", "in.jsonl", "--out", "o.jsonl", "--shard", "4/3"],
                                  ["batch", "in.jsonl", "--out", "o.jsonl", "--max-cost", "lots"]])
def test_usage_errors_exit_2(server: FakeTogetherServer, tmp_path: Path, args: list[str]) -> None:
    """A missing --out, a bad shard or a bad amount is a usage error (exit 2) and sends nothing."""
    write_input(tmp_path / "in.jsonl", 2)
    assert invoke(args, env_for(server, tmp_path)).exit_code == 2
    assert server.stats.total == 0


def test_missing_key_exits_2_and_names_the_variable(server: FakeTogetherServer, tmp_path: Path) -> None:
    """Without an API key the batch does not start and says which variable to set."""
    write_input(tmp_path / "in.jsonl", 2)
    env = env_for(server, tmp_path)
    del env["TOGETHER_API_KEY"]
    result = invoke(["batch", "in.jsonl", "--out", "out.jsonl", "--yes"], env)
    assert result.exit_code == 2
    assert "TOGETHER_API_KEY" in result.output


def test_demo_runs_offline_and_exits_0(tmp_path: Path) -> None:
    """``demo`` needs no key or network: it runs a batch against the embedded fake and writes the dashboard."""
    result = CliRunner().invoke(app, ["demo", "--out-dir", str(tmp_path / "demo"), "--rows", "12"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "demo" / "results.jsonl")) == 12
    assert (tmp_path / "demo" / "dashboard.html").read_text().startswith("<!")
    assert "what happened" in result.output and "requests the server saw" in result.output
