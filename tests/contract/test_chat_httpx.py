"""Both clients against pytest-httpx: requests sent, typed responses, typed errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import API_KEY, BASE_URL, CHAT_URL, USER, MakeClient, test_settings
from wrapper import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatCompletionResponse,
    ModelNotAvailableError,
    PaymentRequiredError,
    PermissionDeniedError,
    Pricing,
    RateLimitError,
    RequestValidationError,
    ServerError,
    UnprocessableEntityError,
    Usage,
    __version__,
)
from wrapper._types import UNSET

NO_RETRY = test_settings(max_retries=0)


async def test_normal_body_is_typed_and_request_is_well_formed(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A normal answer parses into the typed model; the request carries auth, UA, the default model and params."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion(), headers={"x-request-id": "req-1"})
    client = make_client()
    reply = await client.create(max_tokens=16, temperature=0.2, stop="\n")
    assert isinstance(reply, ChatCompletionResponse)
    assert reply.choices[0].message.content == "Paris."
    assert reply.choices[0].seed == 14825403585858396160
    assert reply.choices[0].logprobs is None
    assert isinstance(reply.usage, Usage) and reply.usage.total_tokens == 24
    assert reply.usage["cached_tokens"] == 0  # unknown keys are kept
    request = httpx_mock.get_requests()[0]
    assert f"Bearer {API_KEY}" == request.headers["authorization"]
    assert request.headers["user-agent"].startswith(f"together-wrapper/{__version__}")
    sent = json.loads(request.content)
    assert sent == {"model": "Qwen/Qwen2.5-32B-Instruct-Turbo", "messages": USER, "max_tokens": 16, "temperature": 0.2,
            "stop": ["\n"]}


async def test_tool_call_body_with_null_content(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """content: null beside tool_calls parses, and the tool call is typed."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.tool_call_completion())
    reply = await make_client().create(tools=[{"type": "function", "function": {"name": "get_weather"}}])
    message = reply.choices[0].message
    assert message.content is None
    assert isinstance(message.tool_calls, list)
    assert message.tool_calls[0].function.name == "get_weather"
    assert reply.choices[0].finish_reason == "tool_calls"


async def test_json_mode_body_without_finish_reason_or_prompt(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A body with no finish_reason and no prompt parses (both UNSET)."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.json_mode_completion())
    reply = await make_client().create(response_format={"type": "json_object"})
    assert reply.choices[0].finish_reason is UNSET
    assert reply.prompt is UNSET
    assert reply.choices[0].message.content == '{"answer": 42}'


async def test_model_and_typed_messages(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """An explicit model wins over the default and typed message models are sent as dicts."""
    from wrapper import SystemMessage, UserMessage

    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await make_client().create(
        model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
        messages=[SystemMessage(role="system", content="Be brief."), UserMessage(role="user", content="Hi")],
    )
    sent = json.loads(httpx_mock.get_requests()[0].content)
    assert sent["model"] == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


ERROR_TABLE: list[tuple[int, Any, type[APIStatusError], str | None]] = [
    (400, bodies.error("bad field", "invalid_request_error"), BadRequestError, None),
    (400, bodies.error("Unable to access model x", "invalid_request_error", "model_not_available"),
     ModelNotAvailableError, "model_not_available"),
    (401, bodies.error("Invalid API key provided", "invalid_request_error", "invalid_api_key", with_id=True),
     AuthenticationError, "invalid_api_key"),
    (402, bodies.error("Credit limit exceeded", "credit_limit"), PaymentRequiredError, None),
    (403, bodies.error("forbidden", "invalid_request_error"), PermissionDeniedError, None),
    (422, bodies.error("cannot process", "invalid_request_error"), UnprocessableEntityError, None),
    (429, bodies.error("rate limited", "dynamic_request_limited"), RateLimitError, None),
    (500, bodies.error("internal", "server_error"), ServerError, None),
    (503, bodies.HTML_503, ServerError, None),
    (504, bodies.error("upstream timeout", "timeout"), ServerError, None),
]


@pytest.mark.parametrize(("status", "body", "cls", "code"), ERROR_TABLE)
async def test_error_mapping(
    make_client: MakeClient, httpx_mock: HTTPXMock, status: int, body: Any, cls: type[APIStatusError], code: str | None
) -> None:
    """Each status maps to its typed error carrying status, request id, type/code and body; HTML bodies too."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    httpx_mock.add_response(url=CHAT_URL, status_code=status, content=content, headers={"x-request-id": "rid-7"})
    with pytest.raises(cls) as info:
        await make_client(NO_RETRY).create()
    err = info.value
    assert type(err) is cls
    assert status == err.status_code
    assert err.request_id == "rid-7"
    assert code == err.code
    if isinstance(body, bytes):
        assert "503 Service Temporarily Unavailable" in err.message
        assert isinstance(err.body, str)
    else:
        assert body["error"]["type"] == err.type
        assert body == err.body
    assert API_KEY not in str(err) and API_KEY not in repr(err)


async def test_model_not_available_says_choose_another_model(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """model_not_available is not retried and its message tells the user to pick another model."""
    body = bodies.error("Unable to access model foo", "invalid_request_error", "model_not_available")
    httpx_mock.add_response(url=CHAT_URL, status_code=400, json=body)
    client = make_client()  # retries on: must still make exactly one request
    with pytest.raises(ModelNotAvailableError, match="choose another model"):
        await client.create(model="foo/bar")
    assert len(httpx_mock.get_requests()) == 1


async def test_request_id_from_body_when_header_missing(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A top-level id in the error body is used as the request id when no header carries one."""
    httpx_mock.add_response(url=CHAT_URL, status_code=401,
                            json=bodies.error("Invalid API key provided", "invalid_request_error", with_id=True))
    with pytest.raises(AuthenticationError) as info:
        await make_client(NO_RETRY).create()
    assert info.value.request_id == "nBqtZ7k-3NKUce-9a0b1c2d3e4f5a6b"


async def test_connect_error_maps_to_connection_error(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A refused connection becomes APIConnectionError with sent=False."""
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=CHAT_URL)
    with pytest.raises(APIConnectionError) as info:
        await make_client(NO_RETRY).create()
    assert info.value.sent is False
    assert not isinstance(info.value, APITimeoutError)


async def test_read_timeout_maps_to_timeout_error(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A read timeout becomes APITimeoutError (also a TimeoutError) with sent=True."""
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CHAT_URL)
    with pytest.raises(TimeoutError) as info:
        await make_client(NO_RETRY).create()
    assert isinstance(info.value, APITimeoutError) and info.value.sent is True


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"logprobs": 21}, "logprobs"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"temprature": 0.5}, "temprature"),
    ],
)
async def test_bad_input_raises_before_io(
    make_client: MakeClient, httpx_mock: HTTPXMock, kwargs: dict[str, Any], field: str
) -> None:
    """Bad input raises RequestValidationError naming the field, and nothing is sent."""
    with pytest.raises(RequestValidationError) as info:
        await make_client().create(**kwargs)
    assert field == info.value.field
    assert isinstance(info.value, ValueError)
    assert httpx_mock.get_requests() == []


async def test_models_list_is_typed_with_pricing(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """GET /models returns typed models whose pricing is readable."""
    httpx_mock.add_response(url=f"{BASE_URL}/models", json=[
        {"id": "Qwen/Qwen2.5-32B-Instruct-Turbo", "object": "model", "created": 1, "type": "chat",
         "pricing": {"hourly": 0, "input": 0.8, "output": 0.8, "base": 0, "finetune": 0}},
        {"id": "new/kind", "type": "brand-new-type", "pricing": {"input": 0.1, "output": 0.2}},
    ])
    models = await make_client().models()
    assert [m.id for m in models] == ["Qwen/Qwen2.5-32B-Instruct-Turbo", "new/kind"]
    assert isinstance(models[0].pricing, Pricing) and models[0].pricing.input_ == 0.8
    assert models[1].type_ == "brand-new-type"


async def test_per_call_timeout_and_extra_headers(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """timeout= sets the attempt's timeouts (connect capped at 5 s); extra_headers and extra_body are sent."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await make_client().create(timeout=12.0, extra_headers={"X-Trace": "t1"}, extra_body={"new_field": 1})
    request = httpx_mock.get_requests()[0]
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 12.0, "write": 12.0, "pool": 12.0}
    assert request.headers["x-trace"] == "t1"
    assert json.loads(request.content)["new_field"] == 1


async def test_default_timeout_is_30s_total_5s_connect(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """Without timeout= each attempt gets TOGETHER_TIMEOUT (30 s) with a 5 s connect timeout."""
    httpx_mock.add_response(url=CHAT_URL, json=bodies.completion())
    await make_client().create()
    assert httpx_mock.get_requests()[0].extensions[
        "timeout"
    ] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}
