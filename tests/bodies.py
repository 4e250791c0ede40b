"""Response bodies shaped like what Together really sends (see shared/reference), for parsing tests."""

from __future__ import annotations

from typing import Any


def completion(content: str | None = "Paris.", **overrides: Any) -> dict[str, Any]:
    """A normal chat.completion body with Together's quirks (logprobs null, 20-digit seed, prompt [])."""
    body: dict[str, Any] = {
        "id": "8f1c2b3a4d5e6f70-SJC",
        "object": "chat.completion",
        "created": 1764201600,
        "model": "qwen/qwen2.5-32b-instruct-turbo",
        "prompt": [],
        "choices": [
            {
                "finish_reason": "stop",
                "seed": 14825403585858396160,
                "logprobs": None,
                "index": 0,
                "text": "",
                "message": {"role": "assistant", "content": content, "tool_calls": []},
            }
        ],
        "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24, "cached_tokens": 0},
    }
    body.update(overrides)
    return body


def tool_call_completion() -> dict[str, Any]:
    """An assistant answer made only of a tool call: content is null."""
    body = completion(content=None)
    body["choices"][0]["finish_reason"] = "tool_calls"
    body["choices"][0]["message"]["tool_calls"] = [
        {
            "index": 0,
            "id": "call_9a8b7c",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    return body


def json_mode_completion() -> dict[str, Any]:
    """A JSON-mode answer with no finish_reason at all and no prompt key."""
    body = completion(content='{"answer": 42}')
    del body["choices"][0]["finish_reason"]
    del body["prompt"]
    return body


def chunk(content: str | None, *, last: bool = False) -> dict[str, Any]:
    """A stream chunk: usage null until the last one, which carries finish_reason and usage."""
    return {
        "id": "8f1c2b3a4d5e6f70-SJC",
        "object": "chat.completion.chunk",
        "created": 1764201600,
        "model": "Qwen/Qwen2.5-32B-Instruct-Turbo",
        "choices": [
            {
                "index": 0,
                "text": content or "",
                "logprobs": None,
                "finish_reason": "eos" if last else None,
                "seed": 14825403585858396160 if last else None,
                "delta": {"token_id": 12366, "role": "assistant", "content": content, "tool_calls": None},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15} if last else None,
    }


def error(message: str, type_: str | None, code: str | None = None, *, with_id: bool = False) -> dict[str, Any]:
    """Together's error body; some carry a top-level id beside ``error``."""
    body: dict[str, Any] = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    if with_id:
        body["id"] = "nBqtZ7k-3NKUce-9a0b1c2d3e4f5a6b"
    return body


HTML_503 = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>overloaded</body></html>"
