"""Helpers shared by the CLI integration tests: configuration by environment, input files, ledger checks,
and waiting for a ``python -m wrapper`` subprocess without sleeping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from wrapper import Settings
from wrapper._ledger._ledger import Ledger
from wrapper.cli import app
from wrapper.testing import FakeTogetherServer

KEY = "sk-cli-test-0123456789"


def env_for(server: FakeTogetherServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Everything the CLI needs, as environment variables."""
    return {"TOGETHER_API_KEY": KEY, "TOGETHER_BASE_URL": server.url, "TOGETHER_RATE_LIMIT_RPM": "none",
            "TOGETHER_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "TOGETHER_RETRY_BASE": "0.05",
            "COLUMNS": "200", **extra}


def write_input(path: Path, count: int, **params: Any) -> list[str]:
    """``count`` prompt rows with ids r000, r001, ...; returns the ids."""
    ids = [f"r{i:03d}" for i in range(count)]
    path.write_text("".join(json.dumps({"id": i, "prompt": f"say {i}", **params}) + "\n" for i in ids))
    return ids


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file (none when it does not exist)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ledger_rows(tmp_path: Path) -> list[Any]:
    """Every row of the test's SQLite ledger."""
    with Ledger.from_settings(Settings(ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}")) as ledger:
        return ledger.rows()


def invoke(args: list[str], env: dict[str, str]) -> Result:
    """Run the CLI in-process."""
    return CliRunner().invoke(app, args, env=env)


def assert_each_once_and_charged_once(out: Path, ids: list[str], tmp_path: Path, *,
                                     history_lost_from: list[dict[str, Any]] | None = None) -> None:
    """Every id is in the output exactly once, and each output row has exactly one ``ok`` ledger row.

    ``history_lost_from``: the rows a SIGKILLed run had written. The ledger writes its per-attempt history behind
    (flushed every 100 ms), so a kill may lose the last interval's ``ok`` rows of those -- and only of those; the
    money stays counted in the killed client's budget lease. No row is ever charged twice.
    """
    results = read_jsonl(out)
    assert Counter(r["id"] for r in results) == Counter(ids)
    ok = Counter(r.request_id for r in ledger_rows(tmp_path) if r.outcome == "ok")
    want = Counter(r["request_id"] for r in results)
    if history_lost_from is None:
        assert ok == want
        return
    assert all(count == 1 for count in ok.values())  # never charged twice
    missing = set(want) - set(ok)
    assert missing <= {r["request_id"] for r in history_lost_from}  # only the killed run's last rows
    assert len(missing) <= 8, missing  # about one flush interval of rows at this pace
    assert set(ok) <= set(want)


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m wrapper ...`` with only our TOGETHER_* variables, its output going to ``log``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "wrapper", *args], env={**base, **env}, stdout=sink,
                                stderr=subprocess.STDOUT, cwd=log.parent)


def wait_for(proc: subprocess.Popen[bytes], condition: Callable[[], bool], log: Path) -> None:
    """Block until ``condition()`` holds; fail if the process exits first (or after two minutes)."""
    for _ in range(2400):
        if condition():
            return
        try:
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"the batch exited ({proc.returncode}) too early:\n{log.read_text()}")
    proc.kill()
    pytest.fail(f"the batch did not get there in time:\n{log.read_text()}")


def wait_for_lines(proc: subprocess.Popen[bytes], path: Path, count: int, log: Path) -> None:
    """Block until ``path`` has ``count`` lines (see :func:`wait_for`)."""
    wait_for(proc, lambda: path.exists() and path.read_bytes().count(b"\n") >= count, log)
