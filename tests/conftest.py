"""Shared fixtures: one parametrised fixture runs each behaviour against both clients.

Tests are written once as ``async def`` against :class:`Both`, whose methods call
the sync client directly or await the async one. Sleeps are recorded, never slept.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from wrapper import AsyncClient, ChatCompletionResponse, Client, ModelInfo, Settings
from wrapper._policies._retry_sleep import sleeping_with

API_KEY = "sk-test-PLANTED-0123456789abcdef0123456789abcdef"
BASE_URL = "https://api.together.xyz/v1"
CHAT_URL = f"{BASE_URL}/chat/completions"
USER = [{"role": "user", "content": "What is the capital of France?"}]


def test_settings(**overrides: Any) -> Settings:
    """Settings that read nothing from the machine: no budget, no limiter, an in-memory ledger."""
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "base_url": BASE_URL,
        "ledger_url": "memory",
        "rate_limit_rpm": None,
        "rate_limit_tpm": None,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite the name


class Both:
    """The same calls on a sync or an async client; every method is awaitable."""

    def __init__(self, kind: str, client: Client | AsyncClient, sleeps: list[float]) -> None:
        self.kind = kind
        self.client = client
        self.sleeps = sleeps

    async def create(self, **kwargs: Any) -> ChatCompletionResponse:
        """``chat.completions.create`` on either client."""
        kwargs.setdefault("messages", USER)
        if isinstance(self.client, AsyncClient):
            reply = await self.client.chat.completions.create(**kwargs)
        else:
            reply = self.client.chat.completions.create(**kwargs)
        assert isinstance(reply, ChatCompletionResponse)
        return reply

    async def models(self) -> list[ModelInfo]:
        """``models.list`` on either client."""
        if isinstance(self.client, AsyncClient):
            return await self.client.models.list()
        return self.client.models.list()

    async def close(self) -> None:
        """Close either client."""
        if isinstance(self.client, AsyncClient):
            await self.client.aclose()
        else:
            self.client.close()


MakeClient = Callable[..., Both]


class FakeClock:
    """A monotonic clock that only moves when a test (or a recorded sleep) moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture(params=["sync", "async"])
async def make_client(request: pytest.FixtureRequest) -> AsyncIterator[MakeClient]:
    """Build a client of each kind (sync, async) with recorded sleeps and httpx's own transport.

    Retry waits (backoff's) and rate-limit waits both land in ``both.sleeps`` and advance the client's clock.
    """
    made: list[Both] = []
    recorders: list[Callable[[float], None]] = []

    def record(seconds: float) -> None:
        for rec in recorders[-1:]:
            rec(seconds)

    async def arecord(seconds: float) -> None:
        record(seconds)

    def build(settings: Settings | None = None, *, clock: FakeClock | None = None, **kwargs: Any) -> Both:
        """A client whose sleeps are recorded (and advance ``clock`` when one is given)."""
        sleeps: list[float] = []
        settings = settings or test_settings()
        if clock is not None:
            kwargs["_clock"] = clock

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if clock is not None:
                clock.advance(seconds)

        async def asleep(seconds: float) -> None:
            sleep(seconds)

        recorders.append(sleep)

        client: Client | AsyncClient
        if request.param == "sync":
            kwargs.setdefault("transport", httpx.HTTPTransport())
            client = Client(settings, _sleep=sleep, **kwargs)
        else:
            kwargs.setdefault("transport", httpx.AsyncHTTPTransport())
            client = AsyncClient(settings, _sleep=asleep, **kwargs)
        both = Both(request.param, client, sleeps)
        made.append(both)
        return both

    with sleeping_with(record, arecord):
        yield build
    for both in made:
        await both.close()


@pytest.fixture
def ci() -> bool:
    """True under CI, where a required tier must fail instead of skipping."""
    return bool(os.environ.get("CI"))


@pytest.fixture(autouse=True)
def _no_ambient_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the developer's TOGETHER_* variables out of the tests."""
    for name in list(os.environ):
        if name.startswith("TOGETHER_") or name in ("MAX_ESTIMATED_COST", "CONFIRM_ABOVE_COST"):
            monkeypatch.delenv(name, raising=False)
    yield
