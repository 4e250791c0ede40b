"""``together-wrapper batch`` against the loopback fake server: a full disk and a stale error after a resume."""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_support import assert_each_once_and_charged_once, env_for, invoke, read_jsonl, write_input
from wrapper.cli._files import JsonlAppender
from wrapper.testing import FakeTogetherServer

ARGS = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes"]


@pytest.fixture
def server() -> Iterator[FakeTogetherServer]:
    with FakeTogetherServer(seed=5) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder (no developer .env); recovery files go to a private temp folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


def test_disk_full_exits_6_and_the_resume_pays_each_row_once(server: FakeTogetherServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The output fails with ENOSPC after 3 rows: exit 6 with one line naming the recovery file, no traceback;
    the resume adds the recovered answers and sends only the rest, so every row is paid for exactly once."""
    ids = write_input(tmp_path / "in.jsonl", 16)
    real, written = JsonlAppender.append, list[str]()

    def full_disk(self: JsonlAppender, record: dict[str, Any]) -> None:
        if self._path is None:  # the output (the errors and recovery files are opened by path)
            if len(written) >= 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(record["id"])
        real(self, record)

    monkeypatch.setattr(JsonlAppender, "append", full_disk)
    first = invoke([*ARGS, "--concurrency", "4"], env_for(server, tmp_path))
    assert 6 == first.exit_code, first.output
    assert "stopped (disk)" in first.output and "No space left on device" in first.output
    assert "together-wrapper-recovery-" in first.output
    assert "Traceback" not in first.output and "never retrieved" not in first.output
    sent_first = server.stats.total
    assert 3 < sent_first < 16

    monkeypatch.setattr(JsonlAppender, "append", real)
    second = invoke(ARGS, env_for(server, tmp_path))
    assert 0 == second.exit_code, second.output
    assert "not sent again" in second.output
    assert 16 == server.stats.total
    assert_each_once_and_charged_once(tmp_path / "out.jsonl", ids, tmp_path)


def test_a_row_that_failed_then_succeeded_leaves_the_errors_file(server: FakeTogetherServer, tmp_path: Path) -> None:
    """A row failed by a 400 is in the errors file; after a resume where it succeeds, the errors file is gone."""
    write_input(tmp_path / "in.jsonl", 3)
    server.script("server_error:400")
    first = invoke([*ARGS, "--concurrency", "1"], env_for(server, tmp_path))
    assert 1 == first.exit_code, first.output
    assert ["r000"] == [r["id"] for r in read_jsonl(tmp_path / "out.errors.jsonl")]
    second = invoke(ARGS, env_for(server, tmp_path))
    assert 0 == second.exit_code, second.output
    assert not (tmp_path / "out.errors.jsonl").exists()


def test_an_unwritable_errors_file_is_refused_before_sending(server: FakeTogetherServer, tmp_path: Path) -> None:
    """--errors pointing at a folder exits 2 before any request."""
    write_input(tmp_path / "in.jsonl", 2)
    (tmp_path / "errs").mkdir()
    result = invoke([*ARGS, "--errors", "errs"], env_for(server, tmp_path))
    assert 2 == result.exit_code, result.output
    assert 0 == server.stats.total
