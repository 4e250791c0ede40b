"""Live tier (opt-in): one tiny real call to Together; skipped without TOGETHER_API_KEY.

The key is read when this module is imported, before the suite's fixture hides TOGETHER_* variables.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from wrapper import ChatCompletionResponse, Client, Settings

pytestmark = pytest.mark.live
LIVE_KEY = os.environ.get("TOGETHER_API_KEY")


@pytest.mark.skipif(not LIVE_KEY, reason="live tier: set TOGETHER_API_KEY to run one real call")
def test_one_tiny_real_call() -> None:
    """A 4-token completion from the Stage-1 model parses, is charged in the ledger, and costs under $0.001."""
    settings = Settings(api_key=LIVE_KEY, ledger_url="memory", max_estimated_cost=Decimal("0.01"))
    with Client(settings) as client:
        reply = client.chat.completions.create(messages=[{"role": "user", "content": "Say OK."}], max_tokens=4)
        assert isinstance(reply, ChatCompletionResponse)
        assert reply.choices
        assert Decimal(0) < client.ledger.summary().committed < Decimal("0.001")
