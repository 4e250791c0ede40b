"""The ``chat.completions`` namespace: ``create`` (and ``with_raw_response.create``) through the model chain.

Each pass of the chain estimates, confirms and reserves at its model's price, then sends through the client's
wrapped ``create_chat_completion`` or the stream opener (see :mod:`._client`).

This file is the source; ``_sync/_completions.py`` is generated from it by ``scripts/generate_sync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from ..._errors import TogetherError
from ..._types import ChatCompletionResponse, CompletionParams, MessageParam, RawResponse
from .._call import Call, prepare
from .._chain import chain_of, confirm_step, first_model, next_model
from ._stream import AsyncStream

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = ["Chat", "Completions", "RawCompletions"]


class Completions:
    """``client.chat.completions``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None, stream: Literal[False] = False,
        fallbacks: Sequence[str] | None = None, **params: Unpack[CompletionParams],
    ) -> ChatCompletionResponse: ...

    @overload
    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None, stream: Literal[True],
        fallbacks: Sequence[str] | None = None, **params: Unpack[CompletionParams],
    ) -> AsyncStream: ...

    @overload
    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None, stream: bool,
        fallbacks: Sequence[str] | None = None, **params: Unpack[CompletionParams],
    ) -> ChatCompletionResponse | AsyncStream: ...

    async def create(
        self,
        *,
        messages: Sequence[MessageParam],
        model: str | None = None,
        stream: bool = False,
        fallbacks: Sequence[str] | None = None,
        **params: Unpack[CompletionParams],
    ) -> ChatCompletionResponse | AsyncStream:
        """Create a chat completion, or stream it with ``stream=True``.

        Args:
            messages: the conversation, as dicts (``{"role": "user", "content": "Hi"}``) or typed models.
            model: the model id; default ``TOGETHER_MODEL_STAGE1``.
            stream: return a stream of typed chunks instead of one response; it is retried only until its first
                event arrives, and never after.
            fallbacks: models tried in order when ``model`` answers ``model_not_available`` or its breaker stays
                open longer than ``TOGETHER_BREAKER_PATIENCE``; default ``TOGETHER_MODEL_FALLBACKS``, ``[]`` for
                none. Each switch is re-estimated and re-reserved at the new model's price, confirmed when it is
                dearer (above ``CONFIRM_ABOVE_COST``), and announced as a ModelFallback event.
            **params: Together's request fields (``max_tokens``, ``temperature``, ``tools``, ...) and the
                request options ``extra_body``, ``extra_headers`` and ``timeout`` (seconds per attempt, in total).

        Returns:
            The typed response, or a stream when ``stream=True``.

        Raises:
            RequestValidationError: bad input, before any I/O.
            BudgetExceededError: the worst case does not fit the budget, before any I/O.
            CircuitOpenError: the model's breaker is open, before any I/O.
            ConfirmationRequiredError: above ``CONFIRM_ABOVE_COST`` (or a dearer fallback) and not confirmed.
            LocalRateLimitTimeout: our own rate-limit queue took too long.
            ModelNotAvailableError: the model is not served and no fallback is left.
            APIStatusError: Together's error (a subclass per status) after the allowed retries.
            APIConnectionError: the connection failed or timed out after the allowed retries.
        """
        _, value = await self._through_chain(messages, model, fallbacks, stream, params)
        answer: ChatCompletionResponse | AsyncStream = value
        return answer

    async def _through_chain(self, messages: Sequence[MessageParam], model: str | None,
                             fallbacks: Sequence[str] | None, stream: bool,
                             params: CompletionParams) -> tuple[Call, Any]:
        """Send through the model chain: one pass per model, each estimated, confirmed and reserved at its price."""
        client = self._client
        rt = client._rt
        chain = chain_of(rt, model, fallbacks)
        index, confirmed = first_model(rt, chain), None
        api = client._client()
        while True:
            call, body = prepare(rt, messages=messages, model=chain[index], params=params, stream=stream,
                                 confirm=False)
            confirmed = confirm_step(rt, call.estimate, confirmed) if call.estimate is not None else confirmed
            try:
                if stream:
                    return call, await client._open(call, client=api, body=body, owner=call, rt=rt)
                return call, await client._create(call, client=api, body=body)
            except TogetherError as exc:
                following = next_model(rt, chain, index, exc)
                if following is None:
                    raise
                index = following

    @property
    def with_raw_response(self) -> RawCompletions:
        """``create`` that returns a :class:`RawResponse`: the typed reply with its headers and request id."""
        return RawCompletions(self)


class RawCompletions:
    """``client.chat.completions.with_raw_response``."""

    def __init__(self, completions: Completions) -> None:
        self._completions = completions

    async def create(
        self, *, messages: Sequence[MessageParam], model: str | None = None,
        fallbacks: Sequence[str] | None = None, **params: Unpack[CompletionParams],
    ) -> RawResponse[ChatCompletionResponse]:
        """Create a chat completion (not streamed; a stream has ``.response`` and ``.request_id`` already), with
        the same arguments and fallback chain as ``create``.

        Returns:
            The typed reply with its status, response headers, request id and the number of attempts (of the
            model that answered).
        """
        call, reply = await self._completions._through_chain(messages, model, fallbacks, False, params)
        return RawResponse(parsed=reply, status_code=call.status or 200, headers=dict(call.response_headers or {}),
                           request_id=call.request_id, attempts=call.attempts)


class Chat:
    """``client.chat``."""

    def __init__(self, client: AsyncClient) -> None:
        self.completions = Completions(client)
