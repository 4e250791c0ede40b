"""Live tier fixtures: the key and the model, read before the suite hides TOGETHER_* variables.

Opt-in: every live test is skipped without TOGETHER_API_KEY. The model is ``TOGETHER_LIVE_MODEL`` when set,
else the cheapest serverless chat model ``/models`` lists with a price (input + output per 1M tokens).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest

from wrapper import Client, ModelInfo, Settings
from wrapper._observe._log import register_secret

LIVE_KEY = os.environ.get("TOGETHER_API_KEY", "").strip() or None
LIVE_MODEL = os.environ.get("TOGETHER_LIVE_MODEL", "").strip() or None
LIVE_BASE_URL = os.environ.get("TOGETHER_BASE_URL", "").strip() or None
register_secret(LIVE_KEY)

requires_key = pytest.mark.skipif(LIVE_KEY is None, reason="live tier: set TOGETHER_API_KEY to run real calls")


def live_settings(**overrides: Any) -> Settings:
    """Settings for one live test: the real key, an in-memory ledger, a small budget, few retries."""
    values: dict[str, Any] = {"api_key": LIVE_KEY, "ledger_url": "memory", "max_estimated_cost": Decimal("0.05"),
                              "max_retries": 1, "rate_limit_rpm": 30}
    if LIVE_BASE_URL:
        values["base_url"] = LIVE_BASE_URL
    values.update(overrides)
    return Settings(**values)


def _price(model: ModelInfo) -> float | None:
    """Input + output USD per 1M tokens, or None when /models gives no usable price."""
    pricing = model.pricing
    inp, out = getattr(pricing, "input_", None), getattr(pricing, "output", None)
    if not isinstance(inp, (int, float)) or not isinstance(out, (int, float)) or inp + out <= 0:
        return None
    return float(inp + out)


def cheapest_chat_model(models: list[ModelInfo]) -> str | None:
    """The id of the cheapest chat model with a price, ties broken by id; None when there is none."""
    priced = [(price, m.id) for m in models if m.type_ == "chat" and (price := _price(m)) is not None]
    return min(priced)[1] if priced else None


@pytest.fixture(scope="session")
def live_model() -> str:
    """``TOGETHER_LIVE_MODEL``, else the cheapest priced chat model from ``/models``."""
    if LIVE_KEY is None:
        pytest.skip("live tier: set TOGETHER_API_KEY to run real calls")
    if LIVE_MODEL is not None:
        return LIVE_MODEL
    with Client(live_settings()) as client:
        chosen = cheapest_chat_model(client.models.list())
    if chosen is None:
        pytest.fail("/models lists no priced chat model; set TOGETHER_LIVE_MODEL")
    return chosen
