"""Live tier (opt-in): tiny real calls to Together; every test is skipped without TOGETHER_API_KEY.

The model comes from ``TOGETHER_LIVE_MODEL`` or is the cheapest priced chat model on ``/models`` (see
``conftest.py``), so the tier does not depend on one model staying served. Each test spends well under a cent.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.live.conftest import live_settings, requires_key
from wrapper import (
    AsyncClient,
    ChatCompletionResponse,
    Client,
    ModelNotAvailableError,
    NotFoundError,
    Stream,
)

pytestmark = [pytest.mark.live, requires_key]
SAY_OK = [{"role": "user", "content": "Say OK."}]


def test_one_tiny_real_call(live_model: str) -> None:
    """A 4-token completion parses, is charged in the ledger, and costs under $0.001."""
    with Client(live_settings(model=live_model)) as client:
        reply = client.chat.completions.create(messages=SAY_OK, max_tokens=4)
        assert isinstance(reply, ChatCompletionResponse)
        assert reply.choices
        assert Decimal(0) < client.ledger.summary().committed < Decimal("0.001")


async def test_async_call(live_model: str) -> None:
    """The async client makes the same tiny call and gets a typed answer with usage."""
    async with AsyncClient(live_settings(model=live_model)) as client:
        reply = await client.chat.completions.create(messages=SAY_OK, max_tokens=4)
        assert isinstance(reply, ChatCompletionResponse)
        assert reply.choices and reply.usage


def test_stream(live_model: str) -> None:
    """A streamed answer yields chunks, ends cleanly and reports usage."""
    with Client(live_settings(model=live_model)) as client:
        stream = client.chat.completions.create(messages=SAY_OK, max_tokens=8, stream=True)
        assert isinstance(stream, Stream)
        with stream:
            chunks = list(stream)
        assert chunks
        assert stream.finished


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_bogus_model_is_a_typed_error(kind: str) -> None:
    """A model id nobody serves raises ModelNotAvailableError or NotFoundError after one request, never a retry."""
    settings = live_settings(model="together-wrapper/no-such-model-live-check")
    with pytest.raises((ModelNotAvailableError, NotFoundError)) as info:
        if kind == "sync":
            with Client(settings) as client:
                client.chat.completions.create(messages=SAY_OK, max_tokens=4)
        else:
            async with AsyncClient(settings) as aclient:
                await aclient.chat.completions.create(messages=SAY_OK, max_tokens=4)
    assert 1 == info.value.attempts


def test_charge_equals_usage_times_price(live_model: str) -> None:
    """The ledger charges exactly the reported usage at the model's price (prices refreshed from /models)."""
    with Client(live_settings(model=live_model)) as client:
        client.models.refresh_prices(save=False)
        price = client.ledger.price_of(live_model)
        if price is None:
            pytest.skip(f"no price known for {live_model}")
        reply = client.chat.completions.create(messages=SAY_OK, max_tokens=4)
        prompt = getattr(reply.usage, "prompt_tokens", None)
        completion = getattr(reply.usage, "completion_tokens", None)
        assert isinstance(prompt, int) and isinstance(completion, int)
        assert price.cost(prompt, completion) == client.ledger.summary().committed
