"""Request validation: turn ``create(**params)`` into a checked JSON body, before any I/O.

Every problem raises :class:`RequestValidationError` naming the field and what to
do. Ranges match ``openapi/together-chat.yaml`` (the contract tier checks the
two agree by sending through Prism). Typed message models from the generated
package are accepted beside plain dicts and turned into dicts here.

Whatever the caller passes, the finished body is JSON we can send: numbers are finite
(``Infinity`` is not JSON), every string encodes as UTF-8 (a lone surrogate does not),
and every value is serialisable; otherwise the error names the field at fault.

``extra_body`` is the escape hatch for fields this SDK does not know, and past our range
checks (the server judges those). It may not break what the SDK itself relies on:
``model``, ``messages`` and ``max_tokens`` given there are validated like arguments (the
budget's bound reads them), ``stream`` is refused (``create`` and ``stream`` differ in how
they read the answer), and a known numeric field must still be a finite number.
"""

from __future__ import annotations

import json
import math
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


def _check_messages(messages: object, where: str = "messages") -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise RequestValidationError(where, "expected a list such as [{'role': 'user', 'content': '...'}]")
    if not messages:
        raise RequestValidationError(where, "is empty; send at least one message")
    out = []
    for i, item in enumerate(messages):
        msg = _as_dict(item, f"{where}[{i}]")
        _check_message(msg, f"{where}[{i}]")
        out.append(msg)
    return out


def _check_number(name: str, value: object, *, ranged: bool = True) -> int | float:
    kind, low, high = _RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and not isinstance(value, int)):
        raise RequestValidationError(name, f"expected {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise RequestValidationError(name, f"expected a finite number, got {value!r} (NaN and infinity are not JSON)")
    if ranged and ((low is not None and value < low) or (high is not None and value > high)):
        raise RequestValidationError(name, f"{value!r} is out of range; use a value {_span(low, high)}")
    return value


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"


def _merge_extra(body: dict[str, Any], extra_body: Mapping[str, Any]) -> None:
    """Add ``extra_body`` to ``body``, validating the fields the SDK relies on (see the module docstring)."""
    if not isinstance(extra_body, Mapping):
        raise RequestValidationError("extra_body", f"expected a dict, got {type(extra_body).__name__}")
    for key, value in extra_body.items():
        where = f"extra_body[{key!r}]"
        if not isinstance(key, str):
            raise RequestValidationError(where, "field names must be strings")
        if key == "stream" and value != body.get("stream", False):
            raise RequestValidationError(where, "cannot switch streaming on or off; use create() or stream()")
        if key == "model":
            _check_model(value, where)
        elif key == "messages":
            value = _check_messages(value, where)
        elif key == "max_tokens":
            value = _check_number(key, value)
        elif key in _RANGES:
            value = _check_number(key, value, ranged=False)
        body[key] = value


def _check_model(model: object, where: str = "model") -> None:
    if not isinstance(model, str) or not model.strip():
        raise RequestValidationError(where, "expected a model id such as 'Qwen/Qwen2.5-32B-Instruct-Turbo'")


_STRICT_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)  # json.dumps with options builds one per call


def _check_json(body: dict[str, Any]) -> None:
    """Refuse a body that cannot be sent as JSON in UTF-8, naming the first field at fault."""
    try:
        _STRICT_JSON.encode(body).encode()
    except (TypeError, ValueError, UnicodeError, RecursionError):
        found = _find_unsendable(body, "")
        where, why = found if found is not None else ("request", "cannot be encoded as JSON")
        raise RequestValidationError(where, why) from None


def _find_unsendable(value: object, where: str) -> tuple[str, str] | None:
    """The path and reason of the first value in ``value`` that JSON in UTF-8 cannot carry, or None."""
    if value is None or isinstance(value, (bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (where, f"{value!r} is not a finite number (not valid JSON)")
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            return where, (f"contains a lone surrogate ({value[exc.start]!r} at index {exc.start}) that UTF-8 cannot "
                           "encode; decode the text with errors='replace' first")
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return path, f"a key of type {type(key).__name__} cannot be a JSON field name"
            found = _find_unsendable(key, path) or _find_unsendable(item, path)
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _find_unsendable(item, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    return where, f"a {type(value).__name__} cannot be sent as JSON; pass str, int, float, bool, None, list or dict"


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
        extra_body: keys sent as they are, for fields this SDK does not know yet (see the module docstring).

    Raises:
        RequestValidationError: naming the first bad field.
    """
    _check_model(model)
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
        _merge_extra(body, extra_body)
    _check_json(body)
    return body
