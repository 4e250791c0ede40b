"""``batch --via batch-api`` against the fake server's Batch API: a full job, crashes at each step followed by a
resume that neither re-uploads nor re-creates, expiry with partial output, --retry-failed-realtime, --cancel,
the budget refusing a worst case that does not fit, and the ledger's batch spend checked to the last digit.

Crashes are real SIGKILLs of a ``python -m wrapper`` subprocess at a step the fake server holds (its request
gates) or reports (the state file); progress is awaited with cli_support.wait_for, never a fixed sleep.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.cli_support import env_for, invoke, ledger_rows, read_jsonl, spawn, wait_for, write_input
from wrapper._ledger._pricing import PriceTable, batch_model
from wrapper.testing import BatchTiming, FakeBatches, FakeTogetherServer

ARGS = ["batch", "in.jsonl", "--out", "out.jsonl", "--yes", "--via", "batch-api", "--poll-interval", "0.05"]


@pytest.fixture
def batches() -> FakeBatches:
    return FakeBatches(BatchTiming(validating=0.05, in_progress=0.2))


@pytest.fixture
def server(batches: FakeBatches) -> Iterator[FakeTogetherServer]:
    with FakeTogetherServer(batches=batches) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder, so no developer ``.env`` is read."""
    monkeypatch.chdir(tmp_path)


def state(tmp_path: Path) -> dict[str, object]:
    """The state file's content ({} when there is none)."""
    path = tmp_path / "out.batch-api.json"
    try:
        doc: dict[str, object] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return doc


def assert_batch_spend_exact(tmp_path: Path) -> None:
    """The ledger's batch spend equals the usage in the output file x the batch price, exactly, row for row."""
    prices = PriceTable.builtin()
    want = Decimal(0)
    for record in read_jsonl(tmp_path / "out.jsonl"):
        if record.get("mode") == "batch-api":
            price = prices.get(batch_model(record["model"]))
            assert price is not None
            want += price.cost(record["usage"]["prompt_tokens"], record["usage"]["completion_tokens"])
            assert price.cost(record["usage"]["prompt_tokens"], record["usage"]["completion_tokens"]) == Decimal(
                record["cost"])
    rows = [r for r in ledger_rows(tmp_path) if r.model.startswith("batch:") and r.outcome == "ok"]
    assert want == sum((r.cost for r in rows if r.cost is not None), Decimal(0))
    assert want > 0


def test_a_full_job(server: FakeTogetherServer, batches: FakeBatches, tmp_path: Path) -> None:
    """Every row comes back in the real-time output format, one upload and one batch, state file removed."""
    ids = write_input(tmp_path / "in.jsonl", 6)
    result = invoke(ARGS, env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    out = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(ids) == sorted(r["id"] for r in out)
    assert {"batch-api"} == {r["mode"] for r in out}
    assert all(r["text"] and r["finish_reason"] for r in out)
    assert (1, 1, {}) == (batches.uploads(), len(batches.jobs), state(tmp_path))
    assert [] == list(tmp_path.glob("out-*-part*.jsonl"))  # the request file went with the state file
    assert "at the batch price" in result.output
    assert_batch_spend_exact(tmp_path)


def test_rows_failed_in_the_batch_go_to_the_errors_file(server: FakeTogetherServer, batches: FakeBatches,
                                                        tmp_path: Path) -> None:
    """A partial failure: the error-file rows become errors-file lines (exit 1), the rest are output, billed."""
    batches.timing = BatchTiming(validating=0.0, in_progress=0.1, fail_ids={"r001", "r003"})
    write_input(tmp_path / "in.jsonl", 5)
    result = invoke(ARGS, env_for(server, tmp_path))
    assert result.exit_code == 1, result.output
    assert ["r001", "r003"] == sorted(r["id"] for r in read_jsonl(tmp_path / "out.errors.jsonl"))
    assert 3 == len(read_jsonl(tmp_path / "out.jsonl"))
    assert_batch_spend_exact(tmp_path)


@pytest.mark.parametrize("step", ["create", "content"])
def test_sigkill_at_a_held_step_then_resume(server: FakeTogetherServer, batches: FakeBatches, tmp_path: Path,
                                            step: str) -> None:
    """SIGKILL while the create (after the upload) or the download is in flight; the resume finishes with one
    upload, one batch, every row once, and the batch spend charged once."""
    ids = write_input(tmp_path / "in.jsonl", 4)
    env, log = env_for(server, tmp_path), tmp_path / "run1.log"
    batches.gate(step)
    proc = spawn(ARGS, env, log)
    wait_for(proc, lambda: batches.held[step] > 0, log)
    proc.kill()
    proc.wait(timeout=60)
    batches.release()
    result = invoke(ARGS, env)
    assert result.exit_code == 0, result.output
    assert (1, 1) == (batches.uploads(), len(batches.jobs))
    assert sorted(ids) == sorted(r["id"] for r in read_jsonl(tmp_path / "out.jsonl"))
    assert_batch_spend_exact(tmp_path)


def test_sigkill_between_create_and_completion_then_resume(server: FakeTogetherServer, batches: FakeBatches,
                                                           tmp_path: Path) -> None:
    """SIGKILL while the batch runs: the resume polls the same batch (no new upload or create) and collects it."""
    batches.timing = BatchTiming(validating=0.0, in_progress=2.0)
    ids = write_input(tmp_path / "in.jsonl", 4)
    env, log = env_for(server, tmp_path), tmp_path / "run1.log"
    proc = spawn(ARGS, env, log)
    wait_for(proc, lambda: any(p.get("batch_id") for p in state(tmp_path).get("parts", [])), log)  # type: ignore[attr-defined]
    proc.kill()
    proc.wait(timeout=60)
    result = invoke(ARGS, env)
    assert result.exit_code == 0, result.output
    assert "resuming" in result.output
    assert (1, 1) == (batches.uploads(), len(batches.jobs))
    assert sorted(ids) == sorted(r["id"] for r in read_jsonl(tmp_path / "out.jsonl"))
    assert_batch_spend_exact(tmp_path)


def test_an_expired_batch_keeps_its_partial_output(server: FakeTogetherServer, batches: FakeBatches,
                                                   tmp_path: Path) -> None:
    """EXPIRED midway: answered rows are output and billed, the rest are not_processed errors (exit 1)."""
    batches.timing = BatchTiming(validating=0.0, in_progress=1.0, expire_after=0.5)
    write_input(tmp_path / "in.jsonl", 10)
    result = invoke(ARGS, env_for(server, tmp_path))
    assert result.exit_code == 1, result.output
    done, failed = read_jsonl(tmp_path / "out.jsonl"), read_jsonl(tmp_path / "out.errors.jsonl")
    assert 0 < len(done) < 10 and len(done) + len(failed) == 10
    assert {"not_processed"} == {r["type"] for r in failed}
    assert_batch_spend_exact(tmp_path)


def test_retry_failed_realtime_finishes_every_row(server: FakeTogetherServer, batches: FakeBatches,
                                                  tmp_path: Path) -> None:
    """--retry-failed-realtime sends the rows the batch did not answer through the real-time path: all done."""
    batches.timing = BatchTiming(validating=0.0, in_progress=0.1, fail_ids={"r002"})
    ids = write_input(tmp_path / "in.jsonl", 5)
    result = invoke([*ARGS, "--retry-failed-realtime"], env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    out = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(ids) == sorted(r["id"] for r in out)
    assert ["r002"] == [r["id"] for r in out if r.get("mode") != "batch-api"]
    assert [] == read_jsonl(tmp_path / "out.errors.jsonl")  # pruned: the row is done now
    assert 1 == server.stats.by_path["/v1/chat/completions"]


def test_the_budget_refuses_a_batch_whose_worst_case_does_not_fit(server: FakeTogetherServer, batches: FakeBatches,
                                                                  tmp_path: Path) -> None:
    """A worst case above MAX_ESTIMATED_COST exits 4 before anything is uploaded or recorded."""
    write_input(tmp_path / "in.jsonl", 20)
    result = invoke([*ARGS, "--max-cost", "0.000001"], env_for(server, tmp_path))
    assert result.exit_code == 4, result.output
    assert "does not fit" in result.output
    assert (0, 0, {}) == (batches.uploads(), len(batches.jobs), state(tmp_path))


def test_cancel_stops_the_running_batch(server: FakeTogetherServer, batches: FakeBatches, tmp_path: Path) -> None:
    """--cancel on a job left running by a killed run cancels its batch and collects what was done."""
    batches.timing = BatchTiming(validating=0.0, in_progress=60.0)
    write_input(tmp_path / "in.jsonl", 3)
    env, log = env_for(server, tmp_path), tmp_path / "run1.log"
    proc = spawn(ARGS, env, log)
    wait_for(proc, lambda: any(p.get("batch_id") for p in state(tmp_path).get("parts", [])), log)  # type: ignore[attr-defined]
    proc.kill()
    proc.wait(timeout=60)
    result = invoke([*ARGS, "--cancel"], env)
    assert result.exit_code == 1, result.output
    assert ["CANCELLED"] == [j.cancelled_at is not None and "CANCELLED" for j in batches.jobs.values()]
    assert (1, 1, {}) == (batches.uploads(), len(batches.jobs), state(tmp_path))


@pytest.mark.parametrize("step", ["upload:after", "create:after"])
def test_a_lost_answer_is_found_not_repeated(server: FakeTogetherServer, batches: FakeBatches, tmp_path: Path,
                                             step: str) -> None:
    """SIGKILL after Together stored the file (or created the batch) but before the answer arrived: the resume
    finds it (by the part's unique file name, or by the batch's input file) and never makes a second one."""
    ids = write_input(tmp_path / "in.jsonl", 3)
    env, log = env_for(server, tmp_path), tmp_path / "run1.log"
    batches.gate(step)
    proc = spawn(ARGS, env, log)
    wait_for(proc, lambda: batches.held[step] > 0, log)
    proc.kill()
    proc.wait(timeout=60)
    batches.release()
    result = invoke(ARGS, env)
    assert result.exit_code == 0, result.output
    assert (1, 1) == (batches.uploads(), len(batches.jobs))
    assert sorted(ids) == sorted(r["id"] for r in read_jsonl(tmp_path / "out.jsonl"))
    assert_batch_spend_exact(tmp_path)


def test_a_job_above_the_file_limit_is_split(server: FakeTogetherServer, batches: FakeBatches, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the per-file row limit (2 here, 50,000 at Together) the rows go in several files and batches."""
    from wrapper.cli import _batch_api_state

    monkeypatch.setattr(_batch_api_state, "MAX_ROWS", 2)
    ids = write_input(tmp_path / "in.jsonl", 5)
    result = invoke(ARGS, env_for(server, tmp_path))
    assert result.exit_code == 0, result.output
    assert (3, 3) == (batches.uploads(), len(batches.jobs))
    assert sorted(ids) == sorted(r["id"] for r in read_jsonl(tmp_path / "out.jsonl"))
    assert_batch_spend_exact(tmp_path)


def test_ctrl_c_leaves_the_batch_running_and_the_resume_collects_it(server: FakeTogetherServer,
                                                                     batches: FakeBatches, tmp_path: Path) -> None:
    """SIGINT while waiting: exit 130 with the state file kept; the resume collects the same batch."""
    batches.timing = BatchTiming(validating=0.0, in_progress=2.0)
    ids = write_input(tmp_path / "in.jsonl", 3)
    env, log = env_for(server, tmp_path), tmp_path / "run1.log"
    proc = spawn(ARGS, env, log)
    wait_for(proc, lambda: any(p.get("batch_id") for p in state(tmp_path).get("parts", [])), log)  # type: ignore[attr-defined]
    proc.send_signal(signal.SIGINT)
    assert 130 == proc.wait(timeout=60), log.read_text()
    assert "run the same command again to resume" in " ".join(log.read_text().split())
    assert state(tmp_path)
    result = invoke(ARGS, env)
    assert result.exit_code == 0, result.output
    assert (1, 1) == (batches.uploads(), len(batches.jobs))
    assert sorted(ids) == sorted(r["id"] for r in read_jsonl(tmp_path / "out.jsonl"))


def test_cancel_before_the_batch_exists_creates_nothing(server: FakeTogetherServer, batches: FakeBatches,
                                                        tmp_path: Path) -> None:
    """--cancel after a run killed between upload and create: no batch is created, every row is not processed."""
    write_input(tmp_path / "in.jsonl", 3)
    env, log = env_for(server, tmp_path), tmp_path / "run1.log"
    batches.gate("create")
    proc = spawn(ARGS, env, log)
    wait_for(proc, lambda: batches.held["create"] > 0, log)
    proc.kill()
    proc.wait(timeout=60)
    batches.release()
    result = invoke([*ARGS, "--cancel"], env)
    assert result.exit_code == 1, result.output
    assert (1, 0, {}) == (batches.uploads(), len(batches.jobs), state(tmp_path))
    assert ["not_processed"] * 3 == [r["type"] for r in read_jsonl(tmp_path / "out.errors.jsonl")]


def test_costs_by_mode_shows_realtime_and_batch_apart(server: FakeTogetherServer, batches: FakeBatches,
                                                      tmp_path: Path) -> None:
    """After one batch-api job and one real-time job, ``costs --by mode`` has a batch and a realtime line whose
    costs are the two jobs' output costs."""
    write_input(tmp_path / "in.jsonl", 3)
    env = env_for(server, tmp_path)
    assert invoke(ARGS, env).exit_code == 0
    assert invoke(["batch", "in.jsonl", "--out", "live.jsonl", "--yes"], env).exit_code == 0
    totals = {t["key"]: Decimal(t["cost"]) for t in json.loads(invoke(["costs", "--json", "--by", "mode"], env).stdout)}
    batch_cost = sum((Decimal(r["cost"]) for r in read_jsonl(tmp_path / "out.jsonl")), Decimal(0))
    live_cost = sum((Decimal(r["cost"]) for r in read_jsonl(tmp_path / "live.jsonl")), Decimal(0))
    assert {"batch": batch_cost, "realtime": live_cost} == totals
    assert batch_cost * 2 == live_cost  # same prompts, same answers, half the price
