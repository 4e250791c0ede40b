"""``AsyncClient``: the asynchronous shell. It waits and does I/O; every decision is in the core.

Mirrors :mod:`wrapper._pipeline._sync_client` line for line (``tests/unit/test_parity.py`` keeps
their public signatures equal).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, Unpack, overload

import httpx

from .._errors import APIError
from .._observe._events import EventHook
from .._settings import Settings
from .._types import ChatCompletionResponse, CompletionParams, MessageParam, ModelInfo
from ._aio import post_json, session_of
from ._base import BaseClient, default_async_transport, parse_models
from ._call import Call, Done, Step, map_transport_error, prepare
from ._runtime import Runtime
from ._streaming import AsyncStream

T = TypeVar("T")

__all__ = ["AsyncClient"]


class AsyncClient(BaseClient):
    """Asynchronous Together client: retries, rate limits, breakers and a cost ledger around each call.

    Args:
        settings: a :class:`Settings`; default ``Settings.from_env()``.
        on_event: called with each typed event (breaker, 429, budget, retries); default logs them.
        confirm: asked ``confirm(estimated_cost_usd, model) -> bool`` before a call estimated above
            ``CONFIRM_ABOVE_COST``; without it such calls raise :class:`ConfirmationRequiredError`.
        transport: an httpx transport for the pool (tests, proxies); default the httpx-aiohttp transport,
            several times cheaper per request than httpx's own async pool (see benchmarks/).
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
        _sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        _clock: Callable[[], float] = time.monotonic,
        _runtime: Runtime | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(settings, overrides, on_event=on_event, runtime=_runtime,
                         runtime_options={"clock": _clock, "confirm": confirm})
        self._sleep = _sleep
        self._transport = transport if transport is not None else default_async_transport(self._limits())
        self._api = self._generated(self._transport)
        self._http = self._api.get_async_httpx_client()
        self.chat = Chat(self)
        self.models = Models(self)

    def with_options(self, **changes: Any) -> AsyncClient:
        """A client with some settings changed that shares this one's pool, limiter, breakers and ledger."""
        settings = self._settings.evolve(**changes)
        clone = AsyncClient(settings, transport=self._transport, _sleep=self._sleep,
                            _runtime=self._rt.derive(settings))
        clone._http = self._http
        return clone

    async def _run(self, call: Call, attempt: Callable[[Call], Awaitable[Step[T]]]) -> T:
        """The retry loop: wait for a rate slot, guard the breaker, make the attempt, sleep if the core says so."""
        try:
            while True:
                limiter = self._rt.limiter
                waited = await limiter.acquire_async(call.tokens, asleep=self._sleep) if limiter is not None else 0.0
                call.begin_attempt(waited)
                step = await attempt(call)
                if isinstance(step, Done):
                    return step.value
                await self._sleep(step.wait)
        except BaseException as exc:
            call.abort(exc)
            raise

    async def _send_json(self, call: Call) -> Step[ChatCompletionResponse]:
        session = session_of(self._transport)
        if session is not None:  # the default transport: skip httpx's adaptation (see wrapper/_aio.py)
            r = call.request
            got = await post_json(session, str(self._chat_url), self._json_headers(call), r["content"], r["timeout"],
                                  call.attempts)
            if isinstance(got, APIError):
                return call.failed_with(got)
            return call.answered(*got)
        try:
            response = await self._transport.handle_async_request(self._json_request(call))
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            return call.transport_failed(exc)
        return call.answered(response.status_code, response.headers, content)

    async def _send_stream(self, call: Call) -> Step[AsyncStream]:
        try:
            response = await self._http.send(self._http.build_request(**call.request), stream=True)
        except httpx.HTTPError as exc:
            return call.transport_failed(exc)
        return await AsyncStream._open(call, response)

    async def aclose(self) -> None:
        """Close the connection pool and, if this client owns them, the limiter and ledger."""
        if self._owns_runtime:
            await self._http.aclose()
            self._rt.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        await self.aclose()


class Completions:
    """``client.chat.completions``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None, stream: Literal[False] = False,
        **params: Unpack[CompletionParams],
    ) -> ChatCompletionResponse: ...

    @overload
    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None, stream: Literal[True],
        **params: Unpack[CompletionParams],
    ) -> AsyncStream: ...

    @overload
    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None, stream: bool,
        **params: Unpack[CompletionParams],
    ) -> ChatCompletionResponse | AsyncStream: ...

    async def create(
        self,
        *,
        messages: Sequence[MessageParam],
        model: str | None = None,
        stream: bool = False,
        **params: Unpack[CompletionParams],
    ) -> ChatCompletionResponse | AsyncStream:
        """Create a chat completion, or stream it with ``stream=True``.

        Args:
            messages: the conversation, as dicts (``{"role": "user", "content": "Hi"}``) or typed models.
            model: the model id; default ``TOGETHER_MODEL_STAGE1``.
            stream: return a :class:`AsyncStream` of typed chunks instead of one response; it is retried only until
                its first event arrives, and never after.
            **params: Together's request fields (``max_tokens``, ``temperature``, ``tools``, ...) and the
                request options ``extra_body``, ``extra_headers`` and ``timeout`` (seconds per attempt).

        Returns:
            The typed response, or a :class:`AsyncStream` when ``stream=True``.

        Raises:
            RequestValidationError: bad input, before any I/O.
            BudgetExceededError: the estimate does not fit the budget, before any I/O.
            CircuitOpenError: the model's breaker is open, before any I/O.
            LocalRateLimitTimeout: our own rate-limit queue took too long.
            APIStatusError: Together's error (a subclass per status) after the allowed retries.
            APIConnectionError: the connection failed or timed out after the allowed retries.
        """
        call, _ = prepare(self._client._rt, messages=messages, model=model, params=dict(params), stream=stream)
        if stream:
            return await self._client._run(call, self._client._send_stream)
        return await self._client._run(call, self._client._send_json)


class Chat:
    """``client.chat``."""

    def __init__(self, client: AsyncClient) -> None:
        self.completions = Completions(client)


class Models:
    """``client.models``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, dedicated: bool | None = None) -> list[ModelInfo]:
        """List the models visible to the key, each with its ``pricing`` (USD per 1M tokens).

        Raises:
            APIStatusError: Together's error for this request.
            APIConnectionError: the connection failed.
        """
        try:
            response = await self._client._http.request(**self._client._models_request(dedicated))
        except httpx.HTTPError as exc:
            raise map_transport_error(exc) from exc
        return parse_models(response.status_code, response.headers, response.content)

    async def refresh_prices(self, *, save: bool = True) -> int:
        """Fetch ``/models`` and use its per-token prices for cost estimates and the ledger from now on.

        Args:
            save: also write them to the price cache (``$XDG_CACHE_HOME/together-wrapper/prices.json``) that
                new clients read.

        Returns:
            How many models got a price.
        """
        return self._client._rt.refresh_prices(await self.list(), save=save)
