"""The batch runner with a stub client: credit exhaustion stops at once; a full disk never loses a paid answer."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest

from tests import bodies
from wrapper import AsyncClient, ChatCompletionResponse, CreditLimitError
from wrapper._error_map import error_from_response
from wrapper.cli._batch import BatchRunner
from wrapper.cli._batch_stats import BatchStats, exit_code
from wrapper.cli._files import JsonlAppender, ResultFile
from wrapper.cli._input import Row
from wrapper.cli._recovery import OutputError, check_writable, prune_errors, recovery_path

CREDIT = json.dumps(bodies.error("Credit limit exceeded", "credit_limit")).encode()


class _Quiet:
    def update(self, stats: BatchStats) -> None:
        """Ignore progress."""

    def note(self, message: str) -> None:
        """Ignore notes."""


class _Ledger:
    def price_of(self, model: str) -> None:
        """No prices: costs are None."""


class StubClient:
    """Just what BatchRunner uses of an AsyncClient; counts the requests per row id (each one would be paid)."""

    run_id = "run-test"

    def __init__(self, fail: BaseException | None = None) -> None:
        self.breaker_states: dict[str, str] = {}
        self.sent: Counter[str] = Counter()
        self.fail = fail
        self.ledger = _Ledger()
        self.chat = self
        self.completions = self

    async def create(self, *, messages: list[dict[str, Any]], model: str, **params: Any) -> ChatCompletionResponse:
        """Answer (or fail) after one loop turn, so several rows are in flight at once."""
        self.sent[messages[0]["content"]] += 1
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return ChatCompletionResponse.from_dict(bodies.completion())


def _rows(count: int) -> list[Row]:
    return [Row(line=i + 1, key=f"r{i}", id=f"r{i}", messages=[{"role": "user", "content": f"r{i}"}])
            for i in range(count)]


def _runner(client: StubClient, rows: list[Row], results: ResultFile, errors: JsonlAppender,
            concurrency: int) -> BatchRunner:
    return BatchRunner(cast(AsyncClient, client), rows, results=results, errors=errors, progress=_Quiet(),
                       model="m", max_tokens=8, concurrency=concurrency, breaker_patience=1.0)


async def test_credit_limit_stops_the_batch_at_once_with_exit_5(tmp_path: Path) -> None:
    """A credit_limit answer stops the run after one request (no retries, no grinding), exit 5, row not failed."""
    client = StubClient(fail=error_from_response(429, {}, CREDIT))
    assert isinstance(client.fail, CreditLimitError)
    with ResultFile(tmp_path / "out.jsonl") as results:
        errors = JsonlAppender(tmp_path / "out.errors.jsonl")
        stats = await _runner(client, _rows(6), results, errors, concurrency=1).run()
        errors.close()
    assert 1 == sum(client.sent.values())
    assert ("credit", 5, 0) == (stats.stop_reason, exit_code(stats), stats.failed)
    assert "billing" in stats.stop_detail
    assert not (tmp_path / "out.errors.jsonl").exists()


async def test_disk_full_keeps_paid_answers_and_a_resume_never_pays_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """After the 3rd written row the output fails (ENOSPC): no new row starts, in-flight answers go to the
    recovery file, exit 6 with one line naming it; the next open adds them, and the resume sends only the rest."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out, rows, client = tmp_path / "out.jsonl", _rows(12), StubClient()
    with ResultFile(out) as results:
        real_append, written = results._out.append, list[str]()

        def append(record: dict[str, Any]) -> None:
            if len(written) >= 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_append(record)
            written.append(record["id"])

        monkeypatch.setattr(results._out, "append", append)
        errors = JsonlAppender(tmp_path / "out.errors.jsonl")
        runner = _runner(client, rows, results, errors, concurrency=4)
        stats = await runner.run()
        errors.close()
    gc.collect()
    assert ("disk", 6) == (stats.stop_reason, exit_code(stats))
    assert stats.started < len(rows) and stats.done == stats.started
    unwritten = [r["id"] for r in runner.unwritten]
    assert len(unwritten) == stats.done - 3 > 0
    assert str(recovery_path(out)) in stats.stop_detail and "No space left" in stats.stop_detail
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]

    with ResultFile(out) as again:  # the resume: recovered answers first, then only rows not done
        assert (len(unwritten), set(written) | set(unwritten)) == (again.recovered, again.done)
        assert not recovery_path(out).exists()
        pending = [r for r in rows if r.key not in again.done]
        errors = JsonlAppender(tmp_path / "out.errors.jsonl")
        stats2 = await _runner(client, pending, again, errors, concurrency=4).run()
        errors.close()
    assert (None, len(pending)) == (stats2.stop_reason, stats2.done)
    assert {f"r{i}": 1 for i in range(12)} == dict(client.sent)  # every row paid for exactly once
    lines = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(lines) == sorted(f"r{i}" for i in range(12))


def test_prune_errors_drops_done_rows_and_keeps_the_latest_error(tmp_path: Path) -> None:
    """After a resume the errors file lists only rows still not done, each once (its latest error)."""
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({"id": i, "n": n}) + "\n" for i, n in (("a", 1), ("b", 1), ("b", 2), (3, 1))))
    assert 2 == prune_errors(path, {"a"})
    assert [{"id": "b", "n": 2}, {"id": 3, "n": 1}] == [json.loads(x) for x in path.read_text().splitlines()]
    assert 0 == prune_errors(path, set())
    assert 2 == prune_errors(path, {"b", "3"})
    assert not path.exists()  # nothing left: no empty errors file


def test_unwritable_targets_are_refused_up_front(tmp_path: Path) -> None:
    """A folder, or a file in a missing folder, is refused before anything is sent."""
    with pytest.raises(OutputError, match="folder"):
        check_writable(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        check_writable(tmp_path / "missing" / "e.jsonl")
    check_writable(tmp_path / "fine.jsonl")


@pytest.fixture(autouse=True)
def _asyncio_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
