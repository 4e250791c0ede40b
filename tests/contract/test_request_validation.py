"""Both clients: bad numbers, unsendable strings and objects, and extra_body overrides are refused before any I/O."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from tests.conftest import MakeClient
from wrapper import RequestValidationError
from wrapper._pipeline._validate import build_body

USER = [{"role": "user", "content": "hi"}]
NUMERIC = ["max_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
           "frequency_penalty", "logprobs", "n", "seed"]


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_parameters_are_refused_by_name(name: str, value: float) -> None:
    """NaN and +-inf in any numeric parameter raise RequestValidationError naming it (never 'use a value >= None')."""
    with pytest.raises(RequestValidationError) as info:
        build_body(messages=USER, model="m", params={name: value})
    assert name == info.value.field
    assert "None" not in str(info.value)


def test_open_ended_range_message_names_the_bound() -> None:
    """An out-of-range value with only a lower bound says '>= 1', never mentions None."""
    with pytest.raises(RequestValidationError, match=">= 1"):
        build_body(messages=USER, model="m", params={"max_tokens": 0})


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"messages": [{"role": "user", "content": "a\ud800b"}]}, "messages[0].content"),
    ({"extra_body": {"x": object()}}, "x"),
    ({"extra_body": {"x": {"y": [1, float("nan")]}}}, "x.y[1]"),
    ({"extra_body": {"messages": "x"}}, "extra_body['messages']"),
    ({"extra_body": {"messages": [{"role": "wizard", "content": "x"}]}}, "extra_body['messages'][0].role"),
    ({"extra_body": {"model": 3}}, "extra_body['model']"),
    ({"extra_body": {"max_tokens": -5}}, "max_tokens"),
    ({"extra_body": {"repetition_penalty": float("inf")}}, "repetition_penalty"),
    ({"extra_body": {"stream": True}}, "extra_body['stream']"),
    ({"logit_bias": {"42": float("inf")}}, "logit_bias.42"),
    ({"stop": ["\udfff"]}, "stop[0]"),
])
async def test_unsendable_requests_are_typed_errors_before_io(make_client: MakeClient, httpx_mock: HTTPXMock,
                                                              kwargs: dict[str, Any], field: str) -> None:
    """Each of these raises RequestValidationError naming the field, and nothing is sent."""
    kwargs.setdefault("messages", USER)
    with pytest.raises(RequestValidationError) as info:
        await make_client().create(max_tokens=8, **kwargs)
    assert field == info.value.field
    assert [] == httpx_mock.get_requests()


def test_extra_body_may_still_pass_unknown_fields_and_server_judged_ranges() -> None:
    """extra_body still carries unknown fields and lets a known one past our range check (the server judges)."""
    body = build_body(messages=USER, model="m", params={}, extra_body={"new_field": 1, "temperature": 9})
    assert (1, 9) == (body["new_field"], body["temperature"])
