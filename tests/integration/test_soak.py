"""Soak: both clients, 20% injected faults, limiter + breaker + budget on, against the loopback fake server.

Bounded: 1,000 requests in all (500 per client) and about a minute. Proves that every request ends as a
success or a typed error (none lost, none duplicated), that the ledger equals the usage of the successes
plus the uncertain charges, that the server never saw more than the limit in any window, that the breaker
opened and recovered, and that memory stays flat from the first half to the second.
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from wrapper import (
    AsyncClient,
    BreakerStateChanged,
    ChatCompletionResponse,
    CircuitOpenError,
    Client,
    Event,
    Settings,
    TogetherError,
    Usage,
)
from wrapper.testing import FakeTogetherServer

pytestmark = pytest.mark.soak

PER_CLIENT = 500
# An open circuit refuses calls at once, before they queue (nothing is sent); like the batch runner, the soak's
# callers wait for the probe and try again, this many times at most.
OPEN_CIRCUIT_PATIENCE = 200
RPM = 3000  # 50 per second
FAULTS = {
    "rate_limit": 0.03,
    "rate_limit_no_hints": 0.01,
    "server_error:503": 0.04,
    "server_error:500": 0.02,
    "server_error:504": 0.02,
    "html_error:503": 0.02,
    "reset_before_headers": 0.02,
    "reset_after_headers": 0.01,
    "truncated_json": 0.02,
    "latency": 0.01,
}
PRICE = Decimal("0.80") / Decimal(1_000_000)


def _settings(url: str, tmp_path: Path, kind: str) -> Settings:
    return Settings(
        api_key="sk-soak-test-key", base_url=url, ledger_url=f"sqlite:///{tmp_path / f'{kind}.db'}",
        rate_limit_rpm=RPM, max_retries=3, retry_base=0.02, retry_max_wait=0.5, timeout=5.0,
        breaker_failures=5, breaker_window=2.0, breaker_recovery=0.3, max_estimated_cost=Decimal("50"),
        max_connections=16,
    )


def _prompt(i: int, kind: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{kind} soak request number {i} please answer briefly"}]


def _rss() -> int:
    """Resident memory of this process in bytes (Linux), without slowing anything down as tracemalloc would."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _check(results: list[Any], server: FakeTogetherServer, client: Client | AsyncClient, events: list[Event]) -> None:
    assert PER_CLIENT == len(results)  # none lost
    successes = [r for r in results if isinstance(r, ChatCompletionResponse)]
    failures = [r for r in results if not isinstance(r, ChatCompletionResponse)]
    assert all(isinstance(f, TogetherError) for f in failures), {type(f) for f in failures}
    ids = [r.id for r in successes]
    assert len(ids) == len(set(ids))  # none duplicated
    assert set(ids) <= server.stats.succeeded
    assert len(successes) > PER_CLIENT * 0.8
    usages = [r.usage for r in successes]
    assert all(isinstance(u, Usage) for u in usages)
    usage_cost = sum(
        (Decimal(u.prompt_tokens + u.completion_tokens) * PRICE for u in usages if isinstance(u, Usage)), Decimal(0)
    )
    status = client.ledger.summary()
    assert usage_cost == status.committed
    assert Decimal(0) == status.reserved
    assert status.uncertain > 0  # 504s, resets and truncated bodies were charged conservatively
    per_second = math.ceil(RPM / 60)
    assert server.max_in_window(1.0) <= per_second + 1  # +1: window-edge rounding of two clocks
    moves = [(e.old, e.new) for e in events if isinstance(e, BreakerStateChanged)]
    assert ("closed", "open") in moves and ("half_open", "closed") in moves


async def test_soak_async(tmp_path: Path) -> None:
    """The async client at concurrency 32 through 500 requests with 20% faults keeps every promise."""
    events: list[Event] = []
    async with FakeTogetherServer(seed=11, fault_rates=FAULTS, fault_delay=0.05, retry_after=0.05) as server:
        async with AsyncClient(_settings(server.url, tmp_path, "async"), on_event=events.append) as client:
            gate = asyncio.Semaphore(32)

            async def one(i: int) -> Any:
                async with gate:
                    refused: TogetherError | None = None
                    for _ in range(OPEN_CIRCUIT_PATIENCE):
                        try:
                            return await client.chat.completions.create(messages=_prompt(i, "async"), max_tokens=16)
                        except CircuitOpenError as exc:  # refused before sending: wait for the probe, as batch does
                            refused = exc
                            await asyncio.sleep(max(exc.retry_in, 0.02))
                        except TogetherError as exc:
                            return exc
                    return refused

            first = await asyncio.gather(*[one(i) for i in range(PER_CLIENT // 2)])
            mid = _rss()
            second = await asyncio.gather(*[one(i) for i in range(PER_CLIENT // 2, PER_CLIENT)])
            end = _rss()
            _check(first + second, server, client, events)
            assert end - mid < 20_000_000, (mid, end)  # the second half grew memory by < 20 MB


def test_soak_sync(tmp_path: Path) -> None:
    """The sync client from 8 threads through 500 requests with 20% faults keeps every promise."""
    events: list[Event] = []
    server = FakeTogetherServer(seed=12, fault_rates=FAULTS, fault_delay=0.05, retry_after=0.05)
    with server, Client(_settings(server.url, tmp_path, "sync"), on_event=events.append) as client:

        def one(i: int) -> Any:
            refused: TogetherError | None = None
            for _ in range(OPEN_CIRCUIT_PATIENCE):
                try:
                    return client.chat.completions.create(messages=_prompt(i, "sync"), max_tokens=16)
                except CircuitOpenError as exc:  # refused before sending: wait for the probe, as batch does
                    refused = exc
                    time.sleep(max(exc.retry_in, 0.02))
                except TogetherError as exc:
                    return exc
            return refused

        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(one, range(PER_CLIENT // 2)))
            mid = _rss()
            second = list(pool.map(one, range(PER_CLIENT // 2, PER_CLIENT)))
        end = _rss()
        _check(first + second, server, client, events)
        assert end - mid < 20_000_000, (mid, end)  # the second half grew memory by < 20 MB
        pool_state = client._api.get_httpx_client()._transport._pool  # type: ignore[attr-defined]
        assert len(pool_state.connections) <= 16  # the pool never grew past its limit
