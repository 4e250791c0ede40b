"""Unit tests of the batch CLI's pure parts: input rows, shards, the resumable output file, exit codes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from wrapper.cli._batch_stats import BatchStats, exit_code
from wrapper.cli._files import OutputError, ResultFile, default_errors_path, error_record, result_record
from wrapper.cli._input import Problem, Row, Shard, check_lines, parse_row, parse_shard, shard_index


def test_prompt_row_becomes_one_user_message() -> None:
    """A ``prompt`` row is sent as a single user message, with its parameters and metadata kept."""
    row = parse_row(3, '{"id": 7, "prompt": "Hi", "temperature": 0.5, "metadata": {"k": 1}}')
    assert isinstance(row, Row)
    assert (row.line, row.key, row.id) == (3, "7", 7)
    assert row.messages == [{"role": "user", "content": "Hi"}]
    assert (row.params, row.metadata) == ({"temperature": 0.5}, {"k": 1})


def test_messages_row_keeps_its_model() -> None:
    """A ``messages`` row keeps its messages and its own model."""
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    row = parse_row(1, json.dumps({"id": "a", "messages": msgs, "model": "m/x", "max_tokens": 9}))
    assert isinstance(row, Row)
    assert (row.messages, row.model, row.params) == (msgs, "m/x", {"max_tokens": 9})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"prompt": "x"}', 'missing "id"'),
        ('{"id": true, "prompt": "x"}', '"id" must be a string or an integer'),
        ('{"id": " ", "prompt": "x"}', '"id" must not be empty'),
        ('{"id": 1}', 'exactly one of "messages" or "prompt"'),
        ('{"id": 1, "prompt": "x", "messages": []}', 'exactly one of "messages" or "prompt"'),
        ('{"id": 1, "prompt": ""}', '"prompt" must be a non-empty string'),
        ('{"id": 1, "messages": []}', '"messages" must be a non-empty list'),
        ('{"id": 1, "messages": [{"role": "robot", "content": "x"}]}', "messages[0].role"),
        ('{"id": 1, "messages": [{"role": "user", "content": null}]}', "messages[0].content"),
        ('{"id": 1, "prompt": "x", "max_token": 5}', "unknown key(s) max_token"),
        ('{"id": 1, "prompt": "x", "max_tokens": "5"}', '"max_tokens" must be an integer'),
        ('{"id": 1, "prompt": "x", "max_tokens": 0}', '"max_tokens" must be at least 1'),
        ('{"id": 1, "prompt": "x", "temperature": "hot"}', '"temperature" must be a number'),
        ('{"id": 1, "prompt": "x", "n": 2}', '"n" must be 1'),
        ('{"id": 1, "prompt": "x", "model": ""}', '"model" must be a non-empty string'),
    ],
)
def test_bad_rows_are_problems_that_say_why(text: str, expected: str) -> None:
    """Each kind of bad row becomes a Problem on its line whose message names the fault."""
    result = parse_row(12, text)
    assert isinstance(result, Problem)
    assert result.line == 12
    assert expected in result.message


def test_problems_carry_line_numbers_and_duplicates_are_invalid_where_they_repeat() -> None:
    """Line numbers count blank lines; a repeated id (1 and "1" alike) is a problem on its later line only."""
    lines = ['{"id": 1, "prompt": "a"}', "", "oops", '{"id": "1", "prompt": "b"}', '{"id": 2, "prompt": "c"}']
    report = check_lines(lines)
    assert [r.key for r in report.rows] == ["1", "2"]
    assert [(p.line, p.id) for p in report.problems] == [(3, None), (4, "1")]
    assert "first on line 1" in report.problems[1].message
    assert report.lines == 4


def test_an_assistant_message_may_have_no_content() -> None:
    """An assistant turn with tool calls and ``content: null`` is accepted."""
    msgs = [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "user", "content": "y"}]
    assert isinstance(parse_row(1, json.dumps({"id": 1, "messages": msgs})), Row)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "3", "1/2/3"])
def test_parse_shard_refuses_what_is_not_i_of_n(text: str) -> None:
    """A shard outside 1..N or not of the form I/N is a usage error."""
    with pytest.raises(ValueError, match="I/N"):
        parse_shard(text)


def test_shards_cover_every_id_exactly_once() -> None:
    """For each N, every id lands in exactly one of the shards 1..N."""
    keys = [f"row-{i}" for i in range(500)]
    for n in range(1, 6):
        shards = [parse_shard(f"{i}/{n}") for i in range(1, n + 1)]
        for key in keys:
            assert sum(key in shard for shard in shards) == 1


def test_shard_hash_is_stable_across_processes() -> None:
    """The shard of an id is fixed by SHA-256 (not ``hash()``, which changes per process): known values hold."""
    assert [2, 2, 1, 1, 4, 1, 3, 2] == [shard_index(f"row-{i}", 4) for i in range(8)]
    assert str(Shard(2, 4)) == "2/4"


def test_errors_path_sits_beside_the_output() -> None:
    """``out.jsonl`` gets ``out.errors.jsonl``; a name without a suffix gets ``.errors.jsonl`` appended."""
    assert default_errors_path(Path("/d/out.jsonl")) == Path("/d/out.errors.jsonl")
    assert default_errors_path(Path("/d/out")) == Path("/d/out.errors.jsonl")


def test_result_file_reads_done_ids_and_run_and_drops_a_torn_tail(tmp_path: Path) -> None:
    """Done ids and the run id are read back; a torn last line (a crash mid-write) is cut off the file."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": 1, "run_id": "r-1"}\n{"id": "b", "run_id": "r-2"}\n{"id": "c", "te')
    with ResultFile(path) as out:
        assert (out.done, out.run_id, out.repaired) == ({"1", "b"}, "r-1", True)
        out.append({"id": "c"})
    assert path.read_bytes() == b'{"id": 1, "run_id": "r-1"}\n{"id": "b", "run_id": "r-2"}\n{"id":"c"}\n'


def test_result_file_completes_a_whole_last_line_missing_its_newline(tmp_path: Path) -> None:
    """A parseable last line without its newline is kept, and the next append starts on a new line."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": "a"}')
    with ResultFile(path) as out:
        assert (out.done, out.repaired) == ({"a"}, False)
        out.append({"id": "b"})
    assert path.read_text().splitlines() == ['{"id": "a"}', '{"id":"b"}']


def test_result_file_refuses_damage_before_the_last_line(tmp_path: Path) -> None:
    """A bad line in the middle is not a crash artefact: opening names the line instead of guessing."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": 1}\ngarbage\n{"id": 2}\n')
    with pytest.raises(OutputError, match="line 2"):
        ResultFile(path)


def test_result_file_is_locked_against_a_second_writer(tmp_path: Path) -> None:
    """While one batch holds the output, another cannot open it (so no row is paid for twice in parallel)."""
    path = tmp_path / "out.jsonl"
    with ResultFile(path), pytest.raises(OutputError, match="in use"):
        ResultFile(path)
    ResultFile(path).close()  # released on close


def test_unused_new_output_is_discarded(tmp_path: Path) -> None:
    """An output created by a job that never sent anything is removed; an existing file is kept."""
    path = tmp_path / "out.jsonl"
    ResultFile(path).close(discard_if_unused=True)
    assert not path.exists()
    path.write_text("")
    ResultFile(path).close(discard_if_unused=True)
    assert path.exists()


@pytest.mark.parametrize(
    ("stats", "code"),
    [
        (BatchStats(planned=3, done=3), 0),
        (BatchStats(planned=3, done=2, failed=1), 1),
        (BatchStats(planned=3, done=1, stop_reason="budget"), 4),
        (BatchStats(planned=3, done=1, failed=1, stop_reason="interrupted"), 130),
        (BatchStats(planned=3, stop_reason="terminated"), 143),
        (BatchStats(planned=3, stop_reason="breaker"), 1),
        (BatchStats(planned=3, failed=1, stop_reason="fatal"), 1),
    ],
)
def test_exit_codes(stats: BatchStats, code: int) -> None:
    """A signal beats the budget, the budget beats failures, and a clean run is 0."""
    assert code == exit_code(stats)
    assert stats.not_done == stats.planned - stats.done - stats.failed


def test_result_and_error_records_hold_what_identifies_the_row() -> None:
    """Output lines carry id, text, usage, exact cost, request id, model, finish reason, run id and metadata."""
    row = Row(line=4, key="7", id=7, messages=[{"role": "user", "content": "x"}], metadata={"k": 1})
    body = {"id": "req-1", "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    rec = result_record(row, body, Decimal("0.0000024"), "run-1")
    assert {k: rec[k] for k in ("id", "text", "cost", "request_id", "model", "finish_reason", "run_id", "metadata")} \
        == {"id": 7, "text": "hi", "cost": "0.0000024", "request_id": "req-1", "model": "m", "finish_reason": "stop",
            "run_id": "run-1", "metadata": {"k": 1}}
    err = error_record(row, ValueError("bad"), "run-1")
    assert (err["id"], err["line"], err["error_type"], err["message"], err["status"]) == (7, 4, "ValueError", "bad",
                                                                                         None)
