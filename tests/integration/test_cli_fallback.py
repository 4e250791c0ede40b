"""The batch preflight and the fallback chain through the CLI, against the loopback fake server: a model that is
not listed stops the run before any chat request, a failing /models only warns, a model retired mid-run or behind
an open breaker moves the rows to the fallback, and a dearer fallback is confirmed or refused."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from tests.integration.cli_support import env_for, invoke, ledger_rows, read_jsonl, write_input
from wrapper.cli._job import BatchJob, run_job
from wrapper.testing import FakeTogetherServer

QWEN32, QWEN7, QWEN72 = ("Qwen/Qwen2.5-32B-Instruct-Turbo", "Qwen/Qwen2.5-7B-Instruct-Turbo",
                         "Qwen/Qwen2.5-72B-Instruct-Turbo")
LLAMA70 = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
PRICE = {QWEN32: Decimal("0.80"), QWEN7: Decimal("0.30"), QWEN72: Decimal("1.20")}
ARGS = ["batch", "in.jsonl", "--out", "out.jsonl", "--concurrency", "1"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder with the model-list cache in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _per_model(server: FakeTogetherServer) -> Counter[str]:
    return Counter(str(r.model) for r in server.stats.requests)


def _assert_rows_priced_by_their_model(tmp_path: Path) -> list[dict[str, object]]:
    """Each output row's cost is its usage at the price of the model that answered, and its ledger row (by
    request id) names that model and charges that cost."""
    results = read_jsonl(tmp_path / "out.jsonl")
    ledger = {r.request_id: r for r in ledger_rows(tmp_path) if r.outcome == "ok"}
    for row in results:
        usage, model = row["usage"], row["model"]
        cost = PRICE[model] * (usage["prompt_tokens"] + usage["completion_tokens"]) / 1_000_000
        assert (model, cost) == (ledger[row["request_id"]].model, Decimal(row["cost"]))
        assert cost == ledger[row["request_id"]].cost
    return results


def test_preflight_stops_a_batch_whose_model_is_not_listed(tmp_path: Path) -> None:
    """The default model is not listed: exit 7, no chat request, and the closest served chat models with prices."""
    with FakeTogetherServer(served_models=[QWEN7, QWEN72, LLAMA70]) as server:
        write_input(tmp_path / "in.jsonl", 5)
        result = invoke([*ARGS, "--yes"], env_for(server, tmp_path))
        assert 7 == result.exit_code, result.output
        assert (0, 1) == (server.stats.total, server.stats.models_requests)
    assert f"{QWEN32} is not served" in result.output
    assert f"{QWEN72} ($1.2 in / $1.2 out per 1M tokens)" in result.output
    assert result.output.index(QWEN72) < result.output.index(QWEN7)  # the nearer size first
    assert not (tmp_path / "out.jsonl").exists()


def test_preflight_warns_and_goes_on_when_models_fails(tmp_path: Path) -> None:
    """/models answering 503 is a warning: every row is still sent and done."""
    with FakeTogetherServer(models_error=503) as server:
        ids = write_input(tmp_path / "in.jsonl", 4)
        result = invoke([*ARGS, "--yes"], env_for(server, tmp_path, TOGETHER_MAX_RETRIES="0"))
        assert 0 == result.exit_code, result.output
        assert 4 == server.stats.total
    assert "warning: GET /models failed" in result.output
    assert ids == [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")]


def test_preflight_routes_an_unlisted_model_to_its_fallback(tmp_path: Path) -> None:
    """An unlisted model with a served --fallback: the plan names the fallback and no row is sent to the old one."""
    with FakeTogetherServer(served_models=[QWEN7, QWEN72]) as server:
        write_input(tmp_path / "in.jsonl", 3)
        result = invoke([*ARGS, "--yes", "--fallback", QWEN7], env_for(server, tmp_path))
        assert 0 == result.exit_code, result.output
        assert Counter({QWEN7: 3}) == _per_model(server)
    assert f"its rows go to the fallback {QWEN7}" in result.output
    assert {QWEN7} == {r["model"] for r in _assert_rows_priced_by_their_model(tmp_path)}


def test_fallback_chain_switches_mid_run_on_model_not_available(tmp_path: Path) -> None:
    """The model is retired after 3 rows: one model_not_available, then every row goes to the fallback (the
    retired model is not tried again); each row's model and cost are in the output and the ledger."""
    with FakeTogetherServer(retire_after={QWEN32: 3}) as server:
        ids = write_input(tmp_path / "in.jsonl", 8)
        env = env_for(server, tmp_path, TOGETHER_MODEL_FALLBACKS=f"{QWEN7},{QWEN72}")
        result = invoke([*ARGS, "--yes"], env)
        assert 0 == result.exit_code, result.output
        assert Counter({QWEN32: 4, QWEN7: 5}) == _per_model(server)
    results = _assert_rows_priced_by_their_model(tmp_path)
    assert ids == [r["id"] for r in results]
    assert 3 * [QWEN32] + 5 * [QWEN7] == [r["model"] for r in results]
    assert f"model {QWEN32} -> fallback {QWEN7} (model not available)" in result.output


def test_breaker_that_stays_open_moves_the_rows_to_the_fallback(tmp_path: Path) -> None:
    """A 503 opens the model's breaker (patience 0): that row and the rest are answered by the fallback."""
    with FakeTogetherServer() as server:
        server.script("server_error:503")
        write_input(tmp_path / "in.jsonl", 4)
        env = env_for(server, tmp_path, TOGETHER_BREAKER_FAILURES="1", TOGETHER_MAX_RETRIES="0")
        result = invoke([*ARGS, "--yes", "--fallback", QWEN7, "--breaker-patience", "0"], env)
        assert 0 == result.exit_code, result.output
        assert Counter({QWEN32: 1, QWEN7: 4}) == _per_model(server)
    assert 4 * [QWEN7] == [r["model"] for r in _assert_rows_priced_by_their_model(tmp_path)]
    assert "(breaker open)" in result.output


def test_dearer_fallback_is_asked_and_confirmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A switch to a dearer model asks at the terminal (the rows left at the new price, above the threshold);
    yes sends them at the new price."""
    with FakeTogetherServer(retire_after={QWEN7: 2}) as server:
        for name, value in env_for(server, tmp_path).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
        write_input(tmp_path / "in.jsonl", 8)
        job = BatchJob(input=tmp_path / "in.jsonl", output=tmp_path / "out.jsonl", model=QWEN7, concurrency=1,
                       fallbacks=(QWEN72,), confirm_above=Decimal("0.005"))
        shown = io.StringIO()
        assert 0 == run_job(job, Console(file=shown, width=200), interactive=True).code, shown.getvalue()
    assert f"the fallback {QWEN72} would cost at most" in shown.getvalue()
    assert 2 * [QWEN7] + 6 * [QWEN72] == [r["model"] for r in _assert_rows_priced_by_their_model(tmp_path)]


def test_dearer_fallback_without_a_terminal_is_refused(tmp_path: Path) -> None:
    """Without a terminal or --yes the dearer switch is refused: exit 3, the rows left are not sent."""
    with FakeTogetherServer(retire_after={QWEN7: 2}) as server:
        write_input(tmp_path / "in.jsonl", 8)
        result = invoke([*ARGS, "--model", QWEN7, "--fallback", QWEN72, "--confirm-above", "0.005"],
                        env_for(server, tmp_path))
        assert 3 == result.exit_code, result.output
        assert Counter({QWEN7: 3}) == _per_model(server)
    assert "not confirmed" in result.output
    assert 2 == len(read_jsonl(tmp_path / "out.jsonl"))
    assert [] == read_jsonl(tmp_path / "out.errors.jsonl")
