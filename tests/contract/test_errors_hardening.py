"""Both clients: a 429 ``credit_limit`` is its own error and never retried; a 401 that echoes the key hides it."""

from __future__ import annotations

import json
import traceback

import pytest
from pytest_httpx import HTTPXMock

from tests import bodies
from tests.conftest import API_KEY, CHAT_URL, MakeClient
from wrapper import AuthenticationError, CreditLimitError, PaymentRequiredError, RateLimitError
from wrapper._error_map import error_from_response


async def test_credit_limit_is_typed_and_never_retried(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 429 credit_limit raises CreditLimitError after one request, without a wait, with a billing hint."""
    httpx_mock.add_response(url=CHAT_URL, status_code=429, json=bodies.error("Credit limit exceeded", "credit_limit"),
                            headers={"retry-after": "2", "x-should-retry": "true"})
    client = make_client()
    with pytest.raises(CreditLimitError) as info:
        await client.create()
    assert 1 == len(httpx_mock.get_requests())
    assert [] == client.sleeps
    assert "billing" in str(info.value)
    assert "RATE_LIMIT" not in str(info.value)
    assert not isinstance(info.value, RateLimitError)


def test_402_stays_payment_required_and_dynamic_429_stays_rate_limit() -> None:
    """Only a 429 whose type is credit_limit becomes CreditLimitError; 402 and a dynamic 429 keep their classes."""
    e402 = error_from_response(402, {}, json.dumps(bodies.error("pay", "credit_limit")).encode())
    e429 = error_from_response(429, {}, json.dumps(bodies.error("slow", "dynamic_request_limited")).encode())
    assert (PaymentRequiredError, RateLimitError) == (type(e402), type(e429))


async def test_401_echoing_the_key_never_shows_it(make_client: MakeClient, httpx_mock: HTTPXMock) -> None:
    """A 401 body that echoes the key keeps it out of str, repr, message, body and the traceback."""
    httpx_mock.add_response(url=CHAT_URL, status_code=401,
                            json=bodies.error(f"Invalid API key provided: {API_KEY}", "authentication_error"))
    client = make_client()
    with pytest.raises(AuthenticationError) as info:
        await client.create()
    e = info.value
    shown = [str(e), repr(e), e.message, json.dumps(e.body), "".join(traceback.format_exception(e))]
    assert [API_KEY not in text for text in shown] == [True] * len(shown)
    assert "[REDACTED]" in e.message


def test_registered_shapeless_secret_is_redacted_from_an_error_body() -> None:
    """A secret with no key-like shape is redacted too once registered (the client registers its key)."""
    from wrapper._redact import register_secret

    register_secret("plain-secret-PLANTED-77")
    e = error_from_response(401, {}, b'{"error": {"message": "bad key plain-secret-PLANTED-77"}}')
    assert "plain-secret-PLANTED-77" not in repr(e.body) + str(e)
