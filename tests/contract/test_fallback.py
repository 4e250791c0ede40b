"""Both clients: models.check against GET /models, and the ordered fallback chain (model_not_available, a breaker
that stays open, dearer switches confirmed or refused), each switch priced and recorded in the ledger."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import BASE_URL, CHAT_URL, USER, Both, FakeClock, MakeClient, test_settings
from wrapper import (
    AsyncClient,
    CircuitOpenError,
    ConfirmationRequiredError,
    Event,
    ModelCheck,
    ModelFallback,
    ModelNotAvailableError,
    ServerError,
)

GONE = "Qwen/Qwen2.5-32B-Instruct-Turbo"  # 0.80 per 1M tokens
CHEAP = "Qwen/Qwen2.5-7B-Instruct-Turbo"  # 0.30
DEAR = "Qwen/Qwen2.5-72B-Instruct-Turbo"  # 1.20
MODELS_URL = f"{BASE_URL}/models"
LISTED = [
    {"id": CHEAP, "type": "chat", "context_length": 32768, "pricing": {"input": 0.3, "output": 0.3}},
    {"id": DEAR, "type": "chat", "context_length": 131072, "pricing": {"input": 1.2, "output": 1.2}},
    {"id": "BAAI/bge-large-en-v1.5", "type": "embedding", "pricing": {"input": 0.02, "output": 0}},
]


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model listing cache lives in the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))


def _served(*served: str) -> Any:
    """A chat endpoint that answers for ``served`` models and model_not_available for every other one."""
    def answer(request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        if model in served:
            return httpx.Response(200, json=bodies.completion(model=model), headers={"x-request-id": f"ok-{model}"})
        error = bodies.error(f"Unable to access model {model}", "invalid_request_error", "model_not_available")
        return httpx.Response(400, json=error, headers={"x-request-id": f"gone-{model}"})
    return answer


def _sent_models(httpx_mock: HTTPXMock) -> list[str]:
    return [json.loads(r.content)["model"] for r in httpx_mock.get_requests() if r.method == "POST"]


async def _check(client: Both, model: str) -> ModelCheck:
    if isinstance(client.client, AsyncClient):
        return await client.client.models.check(model)
    return client.client.models.check(model)


async def test_check_answers_from_models_and_caches_it(make_client: MakeClient, httpx_mock: HTTPXMock,
                                                       tmp_path: Path) -> None:
    """check() reads /models once: a served chat model with its price, a gone one with the closest served chat
    models and prices; a new client reads the dated cache on disk instead of asking again."""
    httpx_mock.add_response(url=MODELS_URL, json=LISTED)
    client = make_client()
    served = await _check(client, CHEAP)
    gone = await _check(client, GONE)
    assert (True, True, Decimal("0.3")) == (served.served, served.chat, served.input_price)
    assert (False, "not_served") == (gone.served, gone.status)
    assert [DEAR, CHEAP] == [a.id for a in gone.alternatives]
    assert Decimal("1.2") == gone.alternatives[0].input_price and "$1.2 in" in gone.describe()
    assert 1 == len(httpx_mock.get_requests())
    assert (tmp_path / "together-wrapper" / "models.json").is_file()
    again = await _check(make_client(), GONE)
    assert (again.status, again.fetched_at) == ("not_served", gone.fetched_at)
    assert 1 == len(httpx_mock.get_requests())


async def test_check_says_unknown_when_models_fails(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A failing /models gives an 'unknown' answer with a warning, never an exception."""
    httpx_mock.add_response(url=MODELS_URL, status_code=503, json=bodies.error("down", "server_error"))
    answer = await _check(make_client(test_settings(max_retries=0)), GONE)
    assert (None, "unknown") == (answer.served, answer.status)
    assert answer.warning is not None and "GET /models failed" in answer.warning


async def test_model_not_available_switches_and_is_remembered(make_client: MakeClient,
                                                               httpx_mock: HTTPXMock) -> None:
    """A gone model moves the call to the next fallback (an event, the new model's price in the ledger); the
    next call goes straight to the fallback."""
    httpx_mock.add_callback(_served(CHEAP), url=CHAT_URL, is_reusable=True)
    events: list[Event] = []
    client = make_client(test_settings(model=GONE, model_fallbacks=(CHEAP,)), on_event=events.append)
    first = await client.create(max_tokens=10)
    await client.create(max_tokens=10)
    assert CHEAP == first.model
    assert [GONE, CHEAP, CHEAP] == _sent_models(httpx_mock)
    switches = [e for e in events if isinstance(e, ModelFallback)]
    assert [(GONE, CHEAP, "model_not_available", f"gone-{GONE}")] == [
        (e.model, e.fallback, e.reason, e.request_id) for e in switches]
    rows = client.client.ledger.rows()
    assert {(GONE, "error", Decimal(0))} == {(r.model, r.outcome, r.cost) for r in rows if r.model == GONE}
    assert 2 * [("ok", Decimal("0.3") * 24 / 1_000_000)] == [(r.outcome, r.cost) for r in rows if r.model == CHEAP]
    assert {client.client.ledger.estimate(CHEAP, USER, 10).cost} == {r.estimate for r in rows if r.model == CHEAP}


async def test_fallbacks_argument_wins_and_empty_turns_them_off(make_client: MakeClient,
                                                                httpx_mock: HTTPXMock) -> None:
    """fallbacks= on the call replaces the setting; fallbacks=[] raises the model's own error."""
    httpx_mock.add_callback(_served(DEAR), url=CHAT_URL, is_reusable=True)
    client = make_client(test_settings(model=GONE, model_fallbacks=(CHEAP,)))
    with pytest.raises(ModelNotAvailableError):
        await client.create(max_tokens=10, fallbacks=[])
    assert DEAR == (await client.create(max_tokens=10, fallbacks=[CHEAP, DEAR])).model
    assert [GONE, GONE, CHEAP, DEAR] == _sent_models(httpx_mock)


async def test_breaker_open_beyond_patience_switches(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A model whose breaker stays open is waited for (CircuitOpenError) until the patience has passed; then the
    calls go to the fallback without touching the open model."""
    httpx_mock.add_callback(lambda r: httpx.Response(503, json=bodies.error("down", "server_error"))
                            if json.loads(r.content)["model"] == GONE else _served(CHEAP)(r),
                            url=CHAT_URL, is_reusable=True)
    clock, events = FakeClock(), list[Event]()
    settings = test_settings(model=GONE, model_fallbacks=(CHEAP,), breaker_failures=1, breaker_recovery=300.0,
                             breaker_patience=60.0, max_retries=0)
    client = make_client(settings, clock=clock, on_event=events.append)
    with pytest.raises(ServerError):
        await client.create(max_tokens=10)
    with pytest.raises(CircuitOpenError):
        await client.create(max_tokens=10)
    clock.advance(61.0)
    assert CHEAP == (await client.create(max_tokens=10)).model
    assert CHEAP == (await client.create(max_tokens=10)).model
    assert [GONE, CHEAP, CHEAP] == _sent_models(httpx_mock)
    assert [(GONE, CHEAP, "breaker_open")] == [(e.model, e.fallback, e.reason) for e in events
                                               if isinstance(e, ModelFallback)]
    assert [] == client.sleeps


async def test_dearer_fallback_asks_and_can_be_refused(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A switch to a dearer model above CONFIRM_ABOVE_COST asks confirm(cost, model): yes sends it at the new
    price, no raises ConfirmationRequiredError and sends nothing more; a cheaper switch asks nothing."""
    httpx_mock.add_callback(_served(DEAR, CHEAP), url=CHAT_URL, is_reusable=True)
    low = test_settings(confirm_above_cost=Decimal("0.0005"), model=GONE)  # 32B at 500 tokens: ~0.0005
    asked: list[tuple[Decimal, str]] = []
    answers = iter([True, True, False])

    def confirm(cost: Decimal, model: str) -> bool:
        asked.append((cost, model))
        return next(answers)

    yes = make_client(low, confirm=confirm)
    assert DEAR == (await yes.create(max_tokens=500, fallbacks=[DEAR])).model
    assert [GONE, DEAR] == [m for _, m in asked]
    assert asked[1][0] == yes.client.ledger.estimate(DEAR, USER, 500).cost
    with pytest.raises(ConfirmationRequiredError):
        await yes.create(max_tokens=500, model=DEAR.replace("72B", "14B"), fallbacks=[GONE, DEAR])
    assert [GONE, DEAR] == _sent_models(httpx_mock)[:2]

    def say_yes(cost: Decimal, model: str) -> bool:
        asked.append((cost, model))
        return True

    cheap = make_client(low, confirm=say_yes)
    asked.clear()
    assert CHEAP == (await cheap.create(max_tokens=500, fallbacks=[CHEAP])).model
    assert [GONE] == [m for _, m in asked]


async def test_stream_falls_back_before_its_first_event(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A stream whose model answers model_not_available opens on the fallback instead, charged at its price."""
    from tests.contract.test_streaming import SSE, good_stream, open_stream

    error = bodies.error(f"Unable to access model {GONE}", "invalid_request_error", "model_not_available")
    httpx_mock.add_response(url=CHAT_URL, status_code=400, json=error)
    httpx_mock.add_response(url=CHAT_URL, content=good_stream("Par", "is."), headers=SSE)
    client = make_client(test_settings(model=GONE, model_fallbacks=(CHEAP,)))
    stream = await open_stream(client, max_tokens=10)
    if isinstance(client.client, AsyncClient):
        text = await stream.text()  # type: ignore[misc]
    else:
        text = stream.text()
    assert ("Paris.", [GONE, CHEAP]) == (text, _sent_models(httpx_mock))
    assert {(CHEAP, "ok", Decimal("0.3") * 15 / 1_000_000)} == {
        (r.model, r.outcome, r.cost) for r in client.client.ledger.rows() if r.outcome == "ok"}


async def test_each_switch_is_a_log_line(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """The switch is one structured WARNING record naming both models and the reason."""
    import io

    from loguru import logger

    import wrapper

    sink = io.StringIO()
    handler = wrapper.enable_json_logs(sink, level="DEBUG")
    try:
        httpx_mock.add_callback(_served(CHEAP), url=CHAT_URL, is_reusable=True)
        await make_client(test_settings(model=GONE, model_fallbacks=(CHEAP,))).create(max_tokens=10)
    finally:
        logger.remove(handler)
        logger.disable("wrapper")
    records = [json.loads(line)["record"] for line in sink.getvalue().splitlines()]
    (switch,) = [r for r in records if r["message"].startswith(f"model {GONE} -> fallback")]
    assert ("WARNING", GONE, CHEAP, "model_not_available") == (
        switch["level"]["name"], switch["extra"]["model"], switch["extra"]["fallback"], switch["extra"]["reason"])
