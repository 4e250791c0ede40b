"""The Batch API mode's pure parts: request lines, splitting at the file limits, the state file, result parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wrapper.cli._batch_api_rows import not_processed, parse_results
from wrapper.cli._batch_api_state import MAX_BYTES, MAX_ROWS, JobState, request_line, split_rows, state_path
from wrapper.cli._input import Row


def rows(n: int, text: str = "hi") -> list[Row]:
    """``n`` rows with ids r0, r1, ..."""
    return [Row(line=i + 1, key=f"r{i}", id=f"r{i}", messages=[{"role": "user", "content": text}]) for i in range(n)]


def test_a_request_line_carries_the_id_and_a_bounded_body() -> None:
    """Each line is {"custom_id", "body"}; the body has the model and always a max_tokens."""
    row = Row(line=1, key="7", id=7, messages=[{"role": "user", "content": "é"}], params={"temperature": 0.5})
    line = json.loads(request_line(row, "m", 64))
    assert {"custom_id": "7", "body": {"model": "m", "messages": row.messages, "temperature": 0.5,
                                       "max_tokens": 64}} == line


def test_the_limits_are_togethers() -> None:
    """50,000 rows and 100 MB per input file."""
    assert (50_000, 100 * 1024 * 1024) == (MAX_ROWS, MAX_BYTES)


def test_split_by_row_count() -> None:
    """Above max_rows, the rows are cut into parts in order, none larger than the limit."""
    parts = split_rows(rows(7), "m", 8, max_rows=3)
    assert [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]] == [[r.key for r in p] for p in parts]


def test_split_by_bytes() -> None:
    """Above max_bytes, a part ends before the line that would overflow it."""
    one = len(request_line(rows(1)[0], "m", 8))
    parts = split_rows(rows(5), "m", 8, max_bytes=2 * one)
    assert [2, 2, 1] == [len(p) for p in parts]
    with pytest.raises(ValueError, match="above the Batch API's file limit"):
        split_rows(rows(1, "x" * 100), "m", 8, max_bytes=50)


def test_the_state_file_round_trips_atomically(tmp_path: Path) -> None:
    """state_path sits next to the output; save/load keep every field; no temp file is left behind."""
    path = state_path(tmp_path / "results.jsonl")
    assert tmp_path / "results.batch-api.json" == path
    state = JobState.new(path, input="in.jsonl", run_id="run-1", model="m", max_tokens=8, parts=[rows(2), rows(1)])
    state.parts[0].file_id = "file-1"
    state.save()
    loaded = JobState.load(path)
    assert loaded is not None
    assert (state.parts, "run-1") == (loaded.parts, loaded.run_id)
    assert state.parts[0].file_name != state.parts[1].file_name
    assert [path] == list(tmp_path.iterdir())
    state.remove()
    assert JobState.load(path) is None


def test_results_parse_answers_errors_and_odd_lines() -> None:
    """Output and error lines map to outcomes by custom_id; an answer wins; a torn line is ignored."""
    ok = {"custom_id": "a", "response": {"status_code": 200, "request_id": "q1", "body": {
        "id": "x", "choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}}}
    bad = {"custom_id": "b", "response": {"status_code": 400, "body": {"error": {"message": "no", "type": "t"}}},
           "error": {"code": "c", "message": "rejected"}}
    out = (json.dumps(ok) + "\n{torn").encode()
    outcomes = parse_results(out, json.dumps(bad).encode() + b"\n")
    assert (True, (3, 1), "q1") == (outcomes["a"].ok, outcomes["a"].usage, outcomes["a"].request_id)
    assert (False, 400, "t", "c", "rejected") == (outcomes["b"].ok, outcomes["b"].status, outcomes["b"].type,
                                                   outcomes["b"].code, outcomes["b"].message)
    assert ("not_processed", "expired") == (not_processed("EXPIRED").type, not_processed("EXPIRED").code)
