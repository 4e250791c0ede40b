"""Request validation: turn ``create(**params)`` into a checked JSON body, before any I/O.

Every problem raises :class:`RequestValidationError` naming the field and what to
do. Ranges match ``openapi/together-chat.yaml`` (the contract tier checks the
two agree by sending through Prism). Typed message models from the generated
package are accepted beside plain dicts and turned into dicts here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import RequestValidationError

__all__ = ["KNOWN_PARAMS", "build_body"]

ROLES = ("system", "user", "assistant", "tool", "function")

# name -> (kind, low, high); kind "int" or "num"; None = unbounded on that side.
_RANGES: Mapping[str, tuple[str, float | None, float | None]] = {
    "max_tokens": ("int", 1, None),
    "temperature": ("num", 0, 2),
    "top_p": ("num", 0, 1),
    "top_k": ("int", 0, None),
    "min_p": ("num", 0, 1),
    "repetition_penalty": ("num", None, None),
    "presence_penalty": ("num", -2, 2),
    "frequency_penalty": ("num", -2, 2),
    "logprobs": ("int", 0, 20),
    "n": ("int", 1, 128),
    "seed": ("int", None, None),
}
_PASSTHROUGH = (
    "stop", "stream", "echo", "logit_bias", "context_length_exceeded_behavior", "function_call",
    "response_format", "tools", "tool_choice", "compliance", "chat_template_kwargs", "safety_model",
    "reasoning_effort", "reasoning",
)
KNOWN_PARAMS = frozenset(_RANGES) | frozenset(_PASSTHROUGH)
"""Every keyword ``create`` accepts besides ``messages``, ``model`` and the request options."""


def _as_dict(item: object, where: str) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return dict(item)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, dict):
            return result
    raise RequestValidationError(where, f"expected a dict or a message model, got {type(item).__name__}")


def _check_message(msg: dict[str, Any], where: str) -> None:
    role = msg.get("role")
    if role not in ROLES:
        raise RequestValidationError(f"{where}.role", f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    content = msg.get("content")
    if role == "assistant":
        if content is None and not msg.get("tool_calls") and not msg.get("function_call"):
            raise RequestValidationError(f"{where}.content", "an assistant message needs content or tool_calls")
    elif role == "user" and isinstance(content, list):
        if not content:
            raise RequestValidationError(f"{where}.content", "the list of content parts is empty")
        for j, part in enumerate(content):
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise RequestValidationError(f"{where}.content[{j}]", "a content part needs a 'type'")
    elif not isinstance(content, str):
        raise RequestValidationError(f"{where}.content", f"a {role} message needs string content")
    if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
        raise RequestValidationError(f"{where}.tool_call_id", "a tool message needs the tool_call_id it answers")
    if role == "function" and not isinstance(msg.get("name"), str):
        raise RequestValidationError(f"{where}.name", "a function message needs a name")


def _check_messages(messages: object) -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise RequestValidationError("messages", "expected a list such as [{'role': 'user', 'content': '...'}]")
    if not messages:
        raise RequestValidationError("messages", "is empty; send at least one message")
    out = []
    for i, item in enumerate(messages):
        msg = _as_dict(item, f"messages[{i}]")
        _check_message(msg, f"messages[{i}]")
        out.append(msg)
    return out


def _check_number(name: str, value: object) -> int | float:
    kind, low, high = _RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and not isinstance(value, int)):
        raise RequestValidationError(name, f"expected {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
    if value != value or (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if low is not None and high is not None else f">= {low}"
        raise RequestValidationError(name, f"{value!r} is out of range; use a value {span}")
    return value


def build_body(
    *,
    messages: object,
    model: object,
    params: Mapping[str, Any],
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate the arguments of ``create`` and return the JSON body to send.

    Args:
        messages: the conversation (dicts or generated message models).
        model: the model id (already defaulted by the caller).
        params: the other keyword arguments of ``create``; ``None`` values are dropped.
        extra_body: keys sent as they are, for fields this SDK does not know yet.

    Raises:
        RequestValidationError: naming the first bad field.
    """
    if not isinstance(model, str) or not model.strip():
        raise RequestValidationError("model", "expected a model id such as 'Qwen/Qwen2.5-32B-Instruct-Turbo'")
    body: dict[str, Any] = {"model": model, "messages": _check_messages(messages)}
    for name, value in params.items():
        if value is None:
            continue
        if name not in KNOWN_PARAMS:
            raise RequestValidationError(
                name, "unknown parameter; check the spelling, or pass it in extra_body={...} if Together accepts it"
            )
        if name == "logprobs" and isinstance(value, bool):  # OpenAI's boolean form: True = top-1
            if not value:
                continue
            value = 1
        if name in _RANGES:
            value = _check_number(name, value)
        elif name == "stop" and isinstance(value, str):  # OpenAI accepts a bare string; Together wants a list
            value = [value]
        elif name == "stop" and not (isinstance(value, Sequence) and all(isinstance(s, str) for s in value)):
            raise RequestValidationError("stop", "expected a string or a list of strings")
        body[name] = value
    if extra_body:
        body.update(extra_body)
    return body
