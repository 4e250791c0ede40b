"""Together-shaped bodies for the fake server: completions, stream chunks, /models and error bodies.

Deterministic and cheap: the reply echoes the last user message (truncated to ``max_tokens`` words), usage is
derived from the request (prompt ≈ characters / 4, completion = words produced), and the JSON is filled into
pre-written templates so a request costs one ``json.loads`` and a few small ``json.dumps`` calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

__all__ = [
    "DONE_EVENT", "HTML_ERROR", "MODELS", "STREAM_ERROR_EVENT", "Reply",
    "build_reply", "chunk_events", "completion_body", "error_body", "models_body",
]  # fmt: skip

# (id, price in USD per 1M tokens, input = output, context length, organization, display name)
MODELS: tuple[tuple[str, float, int, str, str], ...] = (
    ("Qwen/Qwen2.5-32B-Instruct-Turbo", 0.80, 32768, "Qwen", "Qwen 2.5 32B Instruct Turbo"),
    ("Qwen/Qwen2.5-7B-Instruct-Turbo", 0.30, 32768, "Qwen", "Qwen 2.5 7B Instruct Turbo"),
    ("Qwen/Qwen2.5-72B-Instruct-Turbo", 1.20, 131072, "Qwen", "Qwen 2.5 72B Instruct Turbo"),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.88, 131072, "Meta", "Llama 3.3 70B Instruct Turbo"),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 0.18, 131072, "Meta", "Llama 3.1 8B Instruct Turbo"),
)
_CREATED = 1_733_000_000
_SEED_BASE = 10**19  # real seeds exceed int64: keep every fake seed at 20 digits


def models_body() -> bytes:
    """The ``GET /v1/models`` body: a JSON array of Together model objects."""
    return json.dumps(
        [
            {
                "id": model_id,
                "object": "model",
                "created": _CREATED,
                "type": "chat",
                "display_name": name,
                "organization": org,
                "context_length": context,
                "pricing": {"hourly": 0, "input": price, "output": price, "base": 0, "finetune": 0},
            }
            for model_id, price, context, org, name in MODELS
        ]
    ).encode()


def error_body(message: str, type_: str, code: str | None, request_id: str) -> bytes:
    """Together's error shape, with the top-level ``id`` real bodies sometimes carry."""
    return json.dumps(
        {"id": request_id, "error": {"message": message, "type": type_, "param": None, "code": code}}
    ).encode()


@attrs.define(frozen=True)
class Reply:
    """The deterministic answer to one request."""

    words: list[str]
    finish_reason: str
    prompt_tokens: int
    tool_call: tuple[str, str] | None = None  # (function name, JSON arguments) when the request offered tools

    @property
    def content(self) -> str:
        """The reply text: the words joined by single spaces."""
        return " ".join(self.words)

    @property
    def completion_tokens(self) -> int:
        """One "token" per word produced."""
        return len(self.words)

    def usage_json(self) -> str:
        """The ``usage`` object, serialised."""
        p, c = self.prompt_tokens, self.completion_tokens
        return f'{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{p + c}}}'


def _text(content: Any) -> str:
    """The text of a message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


UsageProfile = Literal["chars", "qwen"]
"""How the fake counts prompt tokens (see :class:`FakeTogetherServer`)."""

_QWEN_SYSTEM = 21  # "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." with its framing
_QWEN_PER_MESSAGE = 5  # <|im_start|>, role, newline, <|im_end|>, newline
_QWEN_PRIMING = 3  # <|im_start|>assistant newline
_PROSE_CHARS_PER_TOKEN = 4.7


def qwen_like_tokens(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens as Qwen2.5 counts them, near enough: prose about 4.7 characters per token, one token per
    digit, one per CJK character, plus the chat template (and its default system prompt when none is sent)."""
    total = _QWEN_PRIMING + (0 if any(m.get("role") == "system" for m in messages) else _QWEN_SYSTEM)
    for message in messages:
        text = _text(message.get("content"))
        digits = sum(c.isdigit() for c in text)
        cjk = sum("\u3000" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in text)
        total += _QWEN_PER_MESSAGE + digits + cjk + math.ceil((len(text) - digits - cjk) / _PROSE_CHARS_PER_TOKEN)
    return total


def build_reply(body: Mapping[str, Any], model: str, *, usage: UsageProfile = "chars") -> Reply:
    """Derive the reply from a validated request body (``messages`` is a list of dicts)."""
    messages: list[dict[str, Any]] = body["messages"]
    chars = sum(len(_text(m.get("content"))) for m in messages)
    prompt_tokens = qwen_like_tokens(messages) if usage == "qwen" else max(1, (chars + 3) // 4)
    last = messages[-1] if messages else {}
    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    words = user.split() or ["ok"]
    finish = "eos" if "llama" in model.lower() else "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and 0 <= max_tokens < len(words):
        words, finish = words[:max_tokens], "length"
    tools = body.get("tools")
    first = tools[0] if isinstance(tools, list) and tools and isinstance(tools[0], dict) else None
    offers_tool = first is not None and not body.get("stream") and body.get("tool_choice") != "none"
    if offers_tool and first is not None and last.get("role") == "user" and finish != "length":
        function = first.get("function")
        name = function.get("name", "tool") if isinstance(function, dict) else "tool"
        return Reply(words, "tool_calls", prompt_tokens, (str(name), json.dumps({"echo": " ".join(words)})))
    return Reply(words, finish, prompt_tokens)


_COMPLETION = (
    '{{"id":"{id}","object":"chat.completion","created":{created},"model":{model},"choices":[{{"index":0,'
    '"message":{{"role":"assistant","content":{content}{tool_calls}}},"finish_reason":"{finish}","logprobs":null,'
    '"seed":{seed}}}],"usage":{usage},"prompt":[]}}'
)


def completion_body(request_id: str, serial: int, created: int, model: str, reply: Reply) -> bytes:
    """The ``chat.completion`` JSON body for ``reply``."""
    tool_calls = ""
    content = json.dumps(reply.content)
    if reply.tool_call is not None:
        name, arguments = reply.tool_call
        call = {"index": 0, "id": f"call_{request_id}", "type": "function",
                "function": {"name": name, "arguments": arguments}}  # fmt: skip
        tool_calls, content = f',"tool_calls":[{json.dumps(call)}]', "null"
    return _COMPLETION.format(
        id=request_id, created=created, model=json.dumps(model), content=content, tool_calls=tool_calls,
        finish=reply.finish_reason, seed=_SEED_BASE + serial, usage=reply.usage_json(),
    ).encode()  # fmt: skip


def chunk_events(request_id: str, serial: int, created: int, model: str, reply: Reply, chunks: int) -> Iterator[bytes]:
    """The SSE events of a streamed reply: ``chunks`` content chunks, the final chunk (finish_reason + usage).

    The ``data: [DONE]`` sentinel is not included: the server sends it, so faults can leave it out.
    """
    head = (
        f'data: {{"id":"{request_id}","object":"chat.completion.chunk","created":{created},'
        f'"model":{json.dumps(model)},"choices":[{{"index":0,"text":'
    )
    pieces = [w if i == 0 else " " + w for i, w in enumerate(reply.words)]
    n = len(pieces)
    for i in range(chunks):
        text = json.dumps("".join(pieces[i * n // chunks : (i + 1) * n // chunks]))
        yield (
            f'{head}{text},"delta":{{"role":"assistant","content":{text},"token_id":{i}}},'
            '"finish_reason":null,"logprobs":null,"seed":null}],"usage":null}\n\n'
        ).encode()
    yield (
        f'{head}"","delta":{{"role":"assistant","content":"","token_id":{chunks}}},'
        f'"finish_reason":"{reply.finish_reason}","logprobs":null,"seed":{_SEED_BASE + serial}}}],'
        f'"usage":{reply.usage_json()}}}\n\n'
    ).encode()


STREAM_ERROR_EVENT = (
    b'data: {"error": {"message": "The model stopped unexpectedly (injected fault).", "type": "server_error",'
    b' "param": null, "code": null}}\n\n'
)
DONE_EVENT = b"data: [DONE]\n\n"
HTML_ERROR = (  # str.format(status=...) then encode
    "<html>\r\n<head><title>{status} Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
