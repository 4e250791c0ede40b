"""Integration tests of ``batch`` stopped by real signals: a ``python -m wrapper`` subprocess gets SIGINT or
SIGKILL midway, then the same command is run again and must finish every row exactly once.

Progress is awaited with ``Popen.wait(timeout=...)`` (see cli_support.wait_for); nothing asserts on wall time.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_support import (
    assert_each_once_and_charged_once,
    env_for,
    invoke,
    ledger_rows,
    read_jsonl,
    spawn,
    wait_for,
    wait_for_lines,
    write_input,
)
from wrapper.testing import FakeTogetherServer


@pytest.fixture
def slow_server() -> Iterator[FakeTogetherServer]:
    with FakeTogetherServer(seed=3, latency=0.1) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder, so no developer ``.env`` is read."""
    monkeypatch.chdir(tmp_path)


def test_sigint_stops_cleanly_and_resume_pays_nothing_twice(slow_server: FakeTogetherServer, tmp_path: Path) -> None:
    """SIGINT midway: in-flight rows finish and are written, exit 130; the resume sends only the rest."""
    ids = write_input(tmp_path / "in.jsonl", 200)
    args = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "4"]
    env, log = env_for(slow_server, tmp_path), tmp_path / "run1.log"
    proc = spawn(args, env, log)
    wait_for_lines(proc, tmp_path / "out.jsonl", 8, log)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, log.read_text()
    assert "stopped (interrupted)" in log.read_text()
    written = len(read_jsonl(tmp_path / "out.jsonl"))
    assert 8 <= written < 200
    assert slow_server.stats.total == written  # every request sent before the stop was finished and kept
    result = invoke(args, env)
    assert result.exit_code == 0, result.output
    assert slow_server.stats.total == 200
    assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path)


def test_sigkill_then_resume_has_each_row_once(slow_server: FakeTogetherServer, tmp_path: Path) -> None:
    """SIGKILL midway loses at most the rows in flight (and the last flush interval of ledger history); the
    resume completes every row exactly once and charges none twice."""
    ids = write_input(tmp_path / "in.jsonl", 200)
    args = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "4"]
    env, log = env_for(slow_server, tmp_path), tmp_path / "run1.log"
    proc = spawn(args, env, log)
    wait_for_lines(proc, tmp_path / "out.jsonl", 8, log)
    proc.kill()
    assert proc.wait(timeout=60) == -signal.SIGKILL
    before = read_jsonl(tmp_path / "out.jsonl") if (tmp_path / "out.jsonl").read_bytes().endswith(b"\n") else []
    result = invoke(args, env)
    assert result.exit_code == 0, result.output
    assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path, history_lost_from=before)
    assert slow_server.stats.total - 200 <= 4  # only rows in flight at the kill were sent twice
    assert all(r in read_jsonl(tmp_path / "out.jsonl") for r in before)


def test_second_sigint_cancels_rows_in_flight(tmp_path: Path) -> None:
    """A second SIGINT cancels slow in-flight rows: they are left not done and uncharged, and a resume sends them."""
    with FakeTogetherServer(seed=3, latency=5.0) as very_slow:
        ids = write_input(tmp_path / "in.jsonl", 6)
        args = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--concurrency", "3"]
        env, log = env_for(very_slow, tmp_path), tmp_path / "run1.log"
        proc = spawn(args, env, log)
        wait_for(proc, lambda: very_slow.stats.total >= 3, log)
        proc.send_signal(signal.SIGINT)
        wait_for(proc, lambda: "stopping:" in log.read_text(), log)  # two signals sent at once would merge
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130, log.read_text()
        assert "3 cancelled in flight" in log.read_text()
        assert read_jsonl(tmp_path / "out.jsonl") == []
        assert [r for r in ledger_rows(tmp_path) if r.outcome in ("ok", "reserved")] == []
    with FakeTogetherServer(seed=3) as fast:  # the resume, against quick answers this time
        result = invoke(args, env_for(fast, tmp_path))
        assert result.exit_code == 0, result.output
        assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path)
