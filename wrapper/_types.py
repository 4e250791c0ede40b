"""Public names for the generated models, and the typed keyword arguments of ``create``.

The generated package (``together_api_client``) is an artifact; users import its
models from here so that a regeneration that moves a module does not break them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeAlias, TypedDict, TypeVar

import attrs
from together_api_client.models.assistant_message import AssistantMessage
from together_api_client.models.batch_job import BatchJob
from together_api_client.models.chat_completion_choice import ChatCompletionChoice
from together_api_client.models.chat_completion_chunk import ChatCompletionChunk
from together_api_client.models.chat_completion_response import ChatCompletionResponse
from together_api_client.models.chunk_choice import ChunkChoice
from together_api_client.models.chunk_delta import ChunkDelta
from together_api_client.models.error_data import ErrorData
from together_api_client.models.file_object import FileObject
from together_api_client.models.function_message import FunctionMessage
from together_api_client.models.model_info import ModelInfo
from together_api_client.models.pricing import Pricing
from together_api_client.models.response_message import ResponseMessage
from together_api_client.models.system_message import SystemMessage
from together_api_client.models.tool_call import ToolCall
from together_api_client.models.tool_message import ToolMessage
from together_api_client.models.usage import Usage
from together_api_client.models.user_message import UserMessage
from together_api_client.types import UNSET, Unset

__all__ = [
    "UNSET",
    "AssistantMessage",
    "BatchJob",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionResponse",
    "ChunkChoice",
    "ChunkDelta",
    "CompletionParams",
    "ErrorData",
    "FileObject",
    "FunctionMessage",
    "MessageParam",
    "ModelInfo",
    "RawResponse",
    "Pricing",
    "ResponseMessage",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "Unset",
    "Usage",
    "UserMessage",
]

MessageParam: TypeAlias = (
    Mapping[str, Any] | SystemMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage
)
"""One message: a plain dict such as ``{"role": "user", "content": "Hi"}`` or a typed model."""


class CompletionParams(TypedDict, total=False):
    """Optional keyword arguments of ``chat.completions.create``; names match the together and openai SDKs."""

    max_tokens: int
    stop: str | Sequence[str]
    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repetition_penalty: float
    presence_penalty: float
    frequency_penalty: float
    logit_bias: Mapping[str, float]
    context_length_exceeded_behavior: Literal["truncate", "error"]
    logprobs: int | bool
    echo: bool
    n: int
    seed: int
    function_call: Literal["none", "auto"] | Mapping[str, str]
    response_format: Mapping[str, Any]
    tools: Sequence[Mapping[str, Any]]
    tool_choice: str | Mapping[str, Any]
    compliance: Literal["hipaa"]
    chat_template_kwargs: Mapping[str, Any]
    safety_model: str
    reasoning_effort: Literal["low", "medium", "high"]
    reasoning: Mapping[str, bool]
    # request options (not sent in the body)
    extra_body: Mapping[str, Any]
    extra_headers: Mapping[str, str]
    timeout: float


# Wrapper-side descriptions of the re-exported generated models (``generated/`` is never edited by hand, and most
# of its classes have no docstring): ``help(wrapper.Usage)`` and the API reference show these.
_DESCRIPTIONS: dict[type, str] = {
    AssistantMessage: "An assistant turn in ``messages``: ``content`` and/or ``tool_calls`` the model asked for.",
    BatchJob: "A Batch API job (``client.batches``): ``id``, ``status`` (VALIDATING, IN_PROGRESS, COMPLETED, FAILED, "
    "EXPIRED, CANCELLED, or a status added later), ``progress`` (0-100), ``input_file_id``, and when it ends "
    "``output_file_id`` / ``error_file_id``.",
    FileObject: "An uploaded file (``client.files``): ``id``, ``filename``, ``bytes``, ``purpose``.",
    ChatCompletionChoice: "One answer in ``ChatCompletionResponse.choices``: ``message``, ``finish_reason``, "
    "``index``.",
    ChatCompletionChunk: "One ``data:`` event of a streamed completion: ``choices[0].delta`` holds the new text; "
    "the last chunk carries ``usage``.",
    ChatCompletionResponse: "The typed answer of ``chat.completions.create``: ``choices``, ``usage``, ``model``, "
    "``id``; keys Together adds are kept in ``additional_properties`` (``reply[key]``).",
    FunctionMessage: "A legacy ``function`` role message: the result of a function call, with its ``name``.",
    ModelInfo: "One entry of ``client.models.list()``: ``id``, ``type_``, ``context_length`` and ``pricing``.",
    Pricing: "USD per 1M tokens (``input_``, ``output``; ``hourly`` for dedicated endpoints), as ``GET /models`` "
    "reports it.",
    ResponseMessage: "The model's message in a choice: ``content`` (None when it only calls tools), ``tool_calls``, "
    "``role``.",
    SystemMessage: "A ``system`` message: instructions that frame the conversation.",
    ToolCall: "A tool call the model asked for: ``id``, ``type_`` and ``function`` (name and JSON arguments).",
    ToolMessage: "A ``tool`` message: the result of a tool call, with the ``tool_call_id`` it answers.",
    Usage: "Token counts Together reports for one call (``prompt_tokens``, ``completion_tokens``, ``total_tokens``); "
    "the ledger charges from these.",
    UserMessage: "A ``user`` message: ``content`` is text or a list of parts (text, image URL).",
}
for _model, _text in _DESCRIPTIONS.items():
    _model.__doc__ = _text
del _model, _text


T = TypeVar("T")


@attrs.frozen
class RawResponse(Generic[T]):
    """A typed result with what came with it: ``client.chat.completions.with_raw_response.create(...)``.

    Attributes:
        parsed: the typed response (what ``create`` returns).
        status_code: the HTTP status of the answer.
        headers: the answer's response headers (rate-limit headers, ``x-request-id``, ...).
        request_id: Together's ``x-request-id``, to quote to support.
        attempts: how many attempts the call took (retries included).
    """

    parsed: T
    status_code: int
    headers: Mapping[str, str]
    request_id: str | None
    attempts: int
