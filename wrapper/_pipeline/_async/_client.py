"""The client shell: the public namespaces (``chat.completions``, ``models``) over the decorator stack.

Every request goes through a generated endpoint function (``create_chat_completion``, ``list_models``) or the
stream opener, wrapped by :class:`~._stack.AsyncStack`, on the generated client's httpx client: one seam.
The ``chat.completions`` namespace is in :mod:`._completions`, ``files`` and ``batches`` in :mod:`._batches`.

This file is the source; ``_sync/_client.py`` is generated from it by ``scripts/generate_sync.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import httpx
from together_api_client.api.chat import create_chat_completion
from together_api_client.api.models import list_models
from together_api_client.client import Client as GeneratedClient
from together_api_client.types import UNSET

from ..._errors import TogetherError
from ..._observe._events import EventHook
from ..._observe._log import get_logger
from ..._settings import Settings
from ..._transport import ASYNC_HOOKS, build_async_transport
from ..._types import ModelInfo
from .._base import BaseClient
from .._call import Call, attempt_timeout
from .._catalog import (
    LISTING_MAX_AGE,
    Listing,
    ModelCheck,
    check_model,
    default_models_cache_path,
    listing_from,
    load_listing,
    save_listing,
    unknown_check,
)
from .._io import AsyncSleep, aoffload, asleep, async_loop
from .._runtime import Runtime
from ._batches import AsyncBatches, AsyncFiles
from ._completions import Chat
from ._stack import AsyncStack
from ._stream import open_stream

__all__ = ["AsyncClient"]

log = get_logger("models")


class AsyncClient(BaseClient):
    """Together client: retries, rate limits, breakers and a cost ledger around each generated call.

    Args:
        settings: a :class:`Settings`; default ``Settings.from_env()``.
        on_event: called with each typed event (breaker, 429, budget, retries); default logs them.
        confirm: asked ``confirm(estimated_cost_usd, model) -> bool`` before a call estimated above
            ``CONFIRM_ABOVE_COST``; without it such calls raise :class:`ConfirmationRequiredError`.
        transport: an httpx transport for the pool (tests, proxies); default httpx's own (for the async client,
            ``TOGETHER_HTTP_BACKEND=aiohttp`` picks httpx-aiohttp's).
        **overrides: setting values that win over the environment (``api_key=``, ``max_retries=``, ...).

    Raises:
        ConfigError: a missing API key, an unsafe base URL or an invalid setting.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        on_event: EventHook | None = None,
        confirm: Callable[[Decimal, str], bool] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        _sleep: AsyncSleep = asleep,
        _clock: Callable[[], float] = time.monotonic,
        _runtime: Runtime | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(settings, overrides, on_event=on_event, runtime=_runtime,
                         runtime_options={"clock": _clock, "confirm": confirm, "limiter_asleep": _sleep})
        self._own_transport = transport is None
        self._transport: httpx.AsyncBaseTransport | None = (
            transport if transport is not None else build_async_transport(self._settings))
        self._api: GeneratedClient = self._generated()
        self._api.set_async_httpx_client(httpx.AsyncClient(**self._httpx_options(self._transport, ASYNC_HOOKS)))
        self._loop: object = None
        stack = AsyncStack(self._rt)
        self._create = stack.wrap(create_chat_completion.asyncio_detailed)
        self._open = stack.wrap(open_stream)
        self._list_models = stack.wrap(list_models.asyncio_detailed)
        self.chat = Chat(self)
        self.models = Models(self)
        self.files = AsyncFiles(self)  # the Batch API (issue 14): _batches.py
        self.batches = AsyncBatches(self)

    def with_options(self, **changes: Any) -> AsyncClient:
        """A client with some settings changed that shares this one's pool, limiter, breakers and ledger."""
        settings = self._settings.evolve(**changes)
        clone = AsyncClient(settings, transport=self._transport, _runtime=self._rt.derive(settings))
        clone._api = self._api
        clone._own_transport = False
        return clone

    def _client(self) -> GeneratedClient:
        """The generated client, its connections rebuilt when this client is used from a new event loop."""
        loop = async_loop()
        if loop is not self._loop:
            if self._loop is not None and self._own_transport:  # the old pool's connections belong to a dead loop
                self._transport = build_async_transport(self._settings)
                self._api.set_async_httpx_client(httpx.AsyncClient(**self._httpx_options(self._transport, ASYNC_HOOKS)))
            self._loop = loop
        return self._api

    async def aclose(self) -> None:
        """Close the connection pool and, if this client owns them, the limiter and ledger."""
        if self._owns_runtime:
            await self._api.get_async_httpx_client().aclose()
            self._rt.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()



class Models:
    """``client.models``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._listing: tuple[tuple[Listing, ...], datetime] | None = None  # this client's copy of /models

    async def check(self, model: str) -> ModelCheck:
        """Check ``model`` against ``GET /models``: served or not, a chat model or not, its price, and the closest
        served chat models (with prices) when it is gone.

        The listing is kept in memory and on disk (``$XDG_CACHE_HOME/together-wrapper/models.json``, with its date
        and the base URL) for an hour. A model found not served is skipped by fallback chains from then on.

        Returns:
            The typed answer. When ``/models`` cannot be read (offline, an error) its status is ``"unknown"`` and
            ``warning`` says why: a check never raises, so a flaky listing never blocks a run.
        """
        client = self._client
        now = datetime.fromtimestamp(client._rt.wall(), UTC)
        listing = self._listing
        if listing is None or not timedelta(0) <= now - listing[1] <= LISTING_MAX_AGE:
            path, url = default_models_cache_path(), client.settings.base_url
            listing = await aoffload(load_listing, path, url, now=now)
            if listing is None:
                try:
                    listing = (listing_from(await self.list()), now)
                except TogetherError as exc:
                    answer = unknown_check(model, exc)
                    log.bind(model=model).warning("model check: {}", answer.warning)
                    return answer
                await aoffload(save_listing, path, url, listing[0], now)
            self._listing = listing
        answer = check_model(model, *listing)
        if answer.status == "not_served":
            client._rt.chain.mark_unserved(model)
        return answer

    async def list(self, *, dedicated: bool | None = None) -> list[ModelInfo]:
        """List the models visible to the key, each with its ``pricing`` (USD per 1M tokens).

        Raises:
            APIStatusError: Together's error for this request, after the allowed retries.
            APIConnectionError: the connection failed, after the allowed retries.
        """
        client = self._client
        s = client.settings
        call = Call(key="GET /models", total=s.timeout, timeout=attempt_timeout(s.timeout, s.connect_timeout))
        models: list[ModelInfo] = await client._list_models(
            call, client=client._client(), dedicated=dedicated if dedicated is not None else UNSET)
        return models

    async def refresh_prices(self, *, save: bool = True) -> int:
        """Fetch ``/models`` and use its per-token prices for cost estimates and the ledger from now on.

        Args:
            save: also write them to the price cache (``$XDG_CACHE_HOME/together-wrapper/prices.json``) that
                new clients read.

        Returns:
            How many models got a price.
        """
        models = await self.list()
        return await aoffload(self._client._rt.refresh_prices, models, save=save)  # writes the price cache
