"""The clients that benchmarks/bench_clients.py compares: one factory per row, each sending the same request.

Every row posts the same chat body to the same fake server and turns the answer into Python objects the way a
user of that client would get them: raw rows ``json.loads`` the body; the SDKs and the wrapper return their typed
models. Async factories must run inside the event loop (aiohttp sessions bind to it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import httpx

MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
KEY = "bench-key"
MAX_TOKENS = 32
MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Summarise in one line: " + " ".join(f"word{i}" for i in range(60))},
]
BODY: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}

__all__ = ["BODY", "KEY", "AsyncRow", "SyncRow", "async_rows", "sync_rows", "wrapper_settings"]


@attrs.frozen
class SyncRow:
    """A sync client: ``call()`` makes one request and returns the answer's text (checked at warm-up)."""

    name: str
    call: Callable[[], str]
    close: Callable[[], None]
    note: str = ""


@attrs.frozen
class AsyncRow:
    """An async client: ``await call()`` makes one request and returns the answer's text."""

    name: str
    call: Callable[[], Awaitable[str]]
    close: Callable[[], Awaitable[None]]
    note: str = ""


def wrapper_settings(url: str, ledger_url: str, *, layers: bool = True) -> Any:
    """The wrapper's settings: every layer on (limiter far above the reached rate, breaker, budget, metrics),
    or (``layers=False``) limiter and budget off."""
    from wrapper import Settings

    if not layers:
        return Settings(api_key=KEY, base_url=url, ledger_url=ledger_url, rate_limit_rpm=None, rate_limit_tpm=None)
    return Settings(api_key=KEY, base_url=url, ledger_url=ledger_url, rate_limit_rpm=10_000_000,
                    rate_limit_tpm=10**12, max_estimated_cost=1_000_000)


def _wrapper_variants(url: str, folder: str) -> list[tuple[str, Any, str]]:
    return [
        ("wrapper, every layer on", wrapper_settings(url, f"sqlite://{folder}/ledger.db"),
         "limiter+breaker+budget+SQLite ledger+metrics"),
        ("wrapper, ledger=memory", wrapper_settings(url, "memory"), "as above, in-memory ledger"),
        ("wrapper, limiter+budget off", wrapper_settings(url, "memory", layers=False),
         "breaker, memory ledger, metrics"),
    ]


def _text(reply: Any) -> str:
    return str(reply.choices[0].message.content)


def sync_rows(url: str, folder: str) -> list[SyncRow]:
    """Raw httpx (the baseline), the bare generated client, the wrapper variants, then the installed SDKs."""
    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import AuthenticatedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest

    from wrapper import Client

    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30.0)

    def raw() -> str:
        data = json.loads(http.post("/chat/completions", json=BODY).content)
        return str(data["choices"][0]["message"]["content"])

    rows = [SyncRow("raw httpx", raw, http.close, "post + json.loads")]
    gen = AuthenticatedClient(base_url=url, token=KEY, timeout=httpx.Timeout(30.0))

    def bare() -> str:
        reply = create_chat_completion.sync_detailed(client=gen, body=ChatCompletionRequest.from_dict(BODY)).parsed
        return _text(reply)

    rows.append(SyncRow("bare generated client", bare, gen.get_httpx_client().close,
                        "from_dict(body) + sync_detailed"))
    for name, settings, note in _wrapper_variants(url, folder):
        client = Client(settings)

        def wrapped(client: Client = client) -> str:
            return _text(client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

        rows.append(SyncRow(name, wrapped, client.close, note))
    rows += _sdk_rows(url, is_async=False)
    return rows


async def async_rows(url: str, folder: str) -> list[AsyncRow]:
    """Raw aiohttp (the baseline), raw httpx on both pools, the bare generated client, the wrapper, the SDKs."""
    import aiohttp
    from httpx_aiohttp import AiohttpTransport
    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import AuthenticatedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest

    from wrapper import AsyncClient

    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"})
    target = f"{url}/chat/completions"

    async def raw_aiohttp() -> str:
        async with session.post(target, json=BODY) as resp:
            data = json.loads(await resp.read())
        return str(data["choices"][0]["message"]["content"])

    rows = [AsyncRow("raw aiohttp", raw_aiohttp, session.close, "post + read + json.loads")]
    for name, transport, note in (("raw httpx (own pool)", None, "httpx's own async pool"),
                                  ("raw httpx + aiohttp transport", AiohttpTransport(), "the wrapper's transport")):
        http = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30.0,
                                 transport=transport)

        async def raw_httpx(http: httpx.AsyncClient = http) -> str:
            data = json.loads((await http.post("/chat/completions", json=BODY)).content)
            return str(data["choices"][0]["message"]["content"])

        rows.append(AsyncRow(name, raw_httpx, http.aclose, note))
    gen = AuthenticatedClient(base_url=url, token=KEY, timeout=httpx.Timeout(30.0),
                              httpx_args={"transport": AiohttpTransport()})

    async def bare() -> str:
        body = ChatCompletionRequest.from_dict(BODY)
        return _text((await create_chat_completion.asyncio_detailed(client=gen, body=body)).parsed)

    rows.append(AsyncRow("bare generated client", bare, gen.get_async_httpx_client().aclose,
                         "aiohttp transport, asyncio_detailed"))
    for name, settings, note in _wrapper_variants(url, folder):
        client = AsyncClient(settings)

        async def wrapped(client: AsyncClient = client) -> str:
            reply = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
            return _text(reply)

        rows.append(AsyncRow(name, wrapped, client.aclose, note + ", aiohttp transport"))
    for row in _sdk_rows(url, is_async=True):
        rows.append(row)
    return rows


def _sdk_rows(url: str, *, is_async: bool) -> list[Any]:
    """The openai and together SDK clients that are installed (``pip install -e '.[bench]'``), defaults kept."""
    made: list[Any] = []
    for name in ("openai", "together"):
        try:
            module = __import__(name)
        except ImportError:
            print(f"({name} is not installed: its rows are skipped; pip install -e '.[bench]')")
            continue
        cls_name = {("openai", False): "OpenAI", ("openai", True): "AsyncOpenAI",
                    ("together", False): "Together", ("together", True): "AsyncTogether"}[(name, is_async)]
        base = url if name == "openai" else url.removesuffix("/v1")  # the together SDK adds /v1 itself
        sdk = getattr(module, cls_name)(api_key=KEY, base_url=base)
        label = f"{name} SDK {module.__version__}"
        if is_async:
            async def acall(sdk: Any = sdk) -> str:
                return _text(await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

            made.append(AsyncRow(label, acall, sdk.close, f"{cls_name}, its default httpx pool"))
        else:
            def call(sdk: Any = sdk) -> str:
                return _text(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

            made.append(SyncRow(label, call, sdk.close, cls_name))
    return made
