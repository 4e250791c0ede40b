"""The fake server's model catalogue: a chosen served set, a model retired mid-run, and a failing listing."""

from __future__ import annotations

import httpx

from wrapper.testing import FakeTogetherServer

AUTH = {"Authorization": "Bearer sk-fake"}
SEVEN, GONE = "Qwen/Qwen2.5-7B-Instruct-Turbo", "Qwen/Qwen2.5-32B-Instruct-Turbo"


def _chat(srv: FakeTogetherServer, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    return httpx.post(srv.url + "/chat/completions", json=body, headers=AUTH)


def test_served_models_are_listed_and_others_are_not_available() -> None:
    """Only the served models are listed (known prices kept, others $0.60); other models answer
    model_not_available; /models requests are counted apart from chat requests."""
    with FakeTogetherServer(served_models=[SEVEN, "acme/New-9B"]) as srv:
        listed = {m["id"]: m["pricing"]["input"] for m in httpx.get(srv.url + "/models", headers=AUTH).json()}
        gone = _chat(srv, GONE)
        assert {SEVEN: 0.30, "acme/New-9B": 0.60} == listed
        assert (400, "model_not_available") == (gone.status_code, gone.json()["error"]["code"])
        assert 200 == _chat(srv, SEVEN).status_code
        assert (2, 1) == (srv.stats.total, srv.stats.models_requests)


def test_retire_after_and_retire_take_a_model_away_mid_run() -> None:
    """retire_after answers n requests then model_not_available; retire() does it at once."""
    with FakeTogetherServer(retire_after={SEVEN: 2}) as srv:
        assert [200, 200, 400] == [_chat(srv, SEVEN).status_code for _ in range(3)]
        srv.retire(GONE)
        assert 400 == _chat(srv, GONE).status_code


def test_models_error_fails_the_listing_only() -> None:
    """models_error makes GET /models answer that status while chat keeps working."""
    with FakeTogetherServer(models_error=503) as srv:
        assert 503 == httpx.get(srv.url + "/models", headers=AUTH).status_code
        assert 200 == _chat(srv, SEVEN).status_code
