"""Both clients: the budget is reserved before sending, never overshot under concurrency, uncertain charges kept."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import BASE_URL, CHAT_URL, USER, Both, MakeClient, test_settings
from wrapper import (
    AsyncClient,
    BudgetExceededError,
    BudgetThreshold,
    ConfirmationRequiredError,
    Event,
    UncertainCharge,
)

MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
MAX_TOKENS = 1000


def _full_cost_body(prompt_tokens: int) -> dict[str, Any]:
    """A completion whose usage equals the estimate, so a commit frees nothing."""
    return bodies.completion(usage={"prompt_tokens": prompt_tokens, "completion_tokens": MAX_TOKENS,
                                    "total_tokens": prompt_tokens + MAX_TOKENS})


async def _call(client: Both) -> Any:
    if isinstance(client.client, AsyncClient):
        return await client.create(max_tokens=MAX_TOKENS)
    return await asyncio.to_thread(client.client.chat.completions.create, messages=USER, max_tokens=MAX_TOKENS)


async def test_50_concurrent_calls_with_budget_for_10(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """50 concurrent calls against a budget that fits 10: exactly 10 are sent, 40 refused before sending,
    and the spend never exceeds the budget."""
    probe = make_client(test_settings(max_estimated_cost=Decimal("1")))
    estimate = probe.client.ledger.estimate(MODEL, USER, MAX_TOKENS)
    assert estimate.cost is not None and estimate.cost > 0
    limit = estimate.cost * 10 + estimate.cost / 2
    events: list[Event] = []
    client = make_client(test_settings(max_estimated_cost=limit), on_event=events.append)
    httpx_mock.add_response(url=CHAT_URL, json=_full_cost_body(estimate.prompt_tokens), is_reusable=True)
    results = await asyncio.gather(*[_call(client) for _ in range(50)], return_exceptions=True)
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    assert 10 == len(succeeded)
    assert 40 == len(refused)
    assert 10 == len(httpx_mock.get_requests())
    status = client.client.ledger.summary()
    assert status.committed <= limit
    assert estimate.cost * 10 == status.committed
    assert Decimal(0) == status.reserved
    assert refused[0].limit == limit
    assert [50, 80] == [e.percent for e in events if isinstance(e, BudgetThreshold)][:2]


async def test_refusal_happens_before_sending(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A call whose estimate does not fit raises BudgetExceededError with the figures, and sends nothing."""
    client = make_client(test_settings(max_estimated_cost=Decimal("0.0001")))
    with pytest.raises(BudgetExceededError) as info:
        await client.create(max_tokens=MAX_TOKENS)
    assert [] == httpx_mock.get_requests()
    err = info.value
    assert Decimal("0.0001") == err.limit and err.estimate > err.limit
    assert "MAX_ESTIMATED_COST" in str(err)


async def test_budget_gives_calls_without_max_tokens_a_default(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Under a budget a call without max_tokens is sent with TOGETHER_DEFAULT_MAX_TOKENS, so the bound holds."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    client = make_client(test_settings(max_estimated_cost=Decimal("1"), default_max_tokens=77))
    await client.create()
    import json

    assert 77 == json.loads(httpx_mock.get_requests()[0].content)["max_tokens"]


@pytest.mark.parametrize("failure", ["504", "read_timeout"])
async def test_uncertain_outcomes_are_charged(make_client: MakeClient, httpx_mock: HTTPXMock, failure: str) -> None:
    """A 504 or a read timeout may have been billed: the estimate stays charged as uncertain, with an event."""
    if failure == "504":
        httpx_mock.add_response(url=CHAT_URL, status_code=504, json=bodies.error("timeout", "timeout"))
    else:
        httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CHAT_URL)
    events: list[Event] = []
    client = make_client(test_settings(max_estimated_cost=Decimal("1"), max_retries=0), on_event=events.append)
    estimate = client.client.ledger.estimate(MODEL, USER, MAX_TOKENS)
    with pytest.raises(Exception):  # noqa: B017 - the error type is tested elsewhere; the charge is the point
        await client.create(max_tokens=MAX_TOKENS)
    status = client.client.ledger.summary()
    assert estimate.cost == status.uncertain
    assert Decimal(0) == status.reserved
    assert any(isinstance(e, UncertainCharge) for e in events)


async def test_definite_failure_releases_the_reservation(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 400 is definitely not billed: nothing stays reserved or charged."""
    httpx_mock.add_response(url=CHAT_URL, status_code=400, json=bodies.error("bad", "invalid_request_error"))
    client = make_client(test_settings(max_estimated_cost=Decimal("1")))
    with pytest.raises(Exception):  # noqa: B017
        await client.create(max_tokens=MAX_TOKENS)
    status = client.client.ledger.summary()
    assert (Decimal(0), Decimal(0), Decimal(0)) == (status.committed, status.reserved, status.uncertain)


async def test_actual_cost_committed_from_usage(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A success commits the cost from usage (24 tokens at $0.80/1M), not the estimate."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    client = make_client(test_settings(max_estimated_cost=Decimal("1")))
    await client.create(max_tokens=MAX_TOKENS)
    assert Decimal("0.0000192") == client.client.ledger.summary().committed


async def test_confirmation_required_without_callback(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A call estimated above CONFIRM_ABOVE_COST with no confirm callback is refused before sending, saying how."""
    client = make_client(test_settings(confirm_above_cost=Decimal("0.0000001")))
    with pytest.raises(ConfirmationRequiredError, match="confirm=") as info:
        await client.create(max_tokens=MAX_TOKENS)
    assert [] == httpx_mock.get_requests()
    assert Decimal("0.0000001") == info.value.threshold and info.value.estimate > info.value.threshold


@pytest.mark.parametrize("answer", [True, False])
async def test_confirmation_callback_decides(make_client: MakeClient, httpx_mock: HTTPXMock, answer: bool) -> None:
    """The confirm callback gets the estimate and model; yes sends the call, no refuses it before sending."""
    asked: list[tuple[Decimal, str]] = []

    def confirm(cost: Decimal, model: str) -> bool:
        asked.append((cost, model))
        return answer

    if answer:
        httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    client = make_client(test_settings(confirm_above_cost=Decimal("0.0000001")), confirm=confirm)
    if answer:
        await client.create(max_tokens=MAX_TOKENS)
    else:
        with pytest.raises(ConfirmationRequiredError, match="not confirmed"):
            await client.create(max_tokens=MAX_TOKENS)
    assert 1 == len(asked) and MODEL == asked[0][1] and asked[0][0] > Decimal("0.0000001")
    assert (1 if answer else 0) == len(httpx_mock.get_requests())


async def test_calls_below_threshold_need_no_confirmation(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Below CONFIRM_ABOVE_COST nothing is asked."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await make_client(test_settings(confirm_above_cost=Decimal("100"))).create(max_tokens=MAX_TOKENS)


async def test_refresh_prices_from_models(make_client: MakeClient, httpx_mock: HTTPXMock,
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """models.refresh_prices() takes /models prices into estimates and the ledger, and caches them with a date."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    httpx_mock.add_response(url=f"{BASE_URL}/models", json=[
        {"id": MODEL, "pricing": {"input": 2.0, "output": 4.0}},
        {"id": "new/model", "pricing": {"input": 0.5, "output": 0.5}},
        {"id": "dedicated/only", "pricing": {"hourly": 3.0, "input": 0, "output": 0}},
    ])
    client = make_client()
    if isinstance(client.client, AsyncClient):
        count = await client.client.models.refresh_prices()
    else:
        count = client.client.models.refresh_prices()
    assert 2 == count
    estimate = client.client.ledger.estimate(MODEL, USER, 1_000_000)
    assert estimate.cost is not None and estimate.cost >= Decimal(4)  # 1M completion tokens at $4/1M
    assert (tmp_path / "together-wrapper" / "prices.json").is_file()


async def test_reports_from_python(make_client: MakeClient, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    """wrapper.reports gives totals by model, CSV/JSON and a dashboard file from the client's ledger rows."""
    from wrapper import reports

    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), is_reusable=True)
    client = make_client()
    for _ in range(3):
        await client.create(max_tokens=8)
    rows = client.client.ledger.rows()
    by_model = reports.totals(rows, by="model")
    assert [MODEL] == [t.key for t in by_model]
    assert 3 == by_model[0].ok
    csv_lines = reports.to_csv(by_model).splitlines()
    assert csv_lines[0].startswith("key,attempts,ok") and csv_lines[1].startswith(MODEL)
    assert reports.to_json(by_model).startswith("[")
    page = reports.write_dashboard(tmp_path / "r.html", rows)
    assert page.read_text().startswith("<!DOCTYPE html>") or "<html" in page.read_text()
