"""The clients that benchmarks/bench_clients.py compares: one factory per row, each sending the same request.

Every row posts the same chat body to the same fake server and turns the answer into Python objects the way a
user of that client would get them: raw rows ``json.loads`` the body; the generated client, the SDKs and the
wrapper return their typed models. Async factories must run inside the event loop (aiohttp sessions bind to it).

The baseline of each table is the **bare generated call**: ``create_chat_completion.sync_detailed`` /
``asyncio_detailed`` with a typed ``ChatCompletionRequest`` body, on a generated client whose httpx client is
built like the wrapper's -- the same options (base URL, auth and User-Agent headers, timeout, pool limits, no
redirects; taken from the wrapper client itself, so they cannot drift) and the same transport. Only our two
httpx event hooks are left out: they are part of the layers being measured. The typed body is built per call
from the same dict the wrapper gets (``from_dict``), as a user of the generated client would; a second sync row
reuses one prebuilt body (the cheapest possible bare call) so the stricter ratio is visible too.
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

BARE = "bare generated call"
BARE_REUSED = "bare generated, body reused"
WRAPPER = "wrapper, every layer on"
WRAPPER_MEMORY = "wrapper, ledger=memory"
AIO = " [aiohttp]"  # suffix of the rows on the aiohttp backend
SDKS = ("openai", "together")

__all__ = ["AIO", "BARE", "BARE_REUSED", "BODY", "KEY", "SDKS", "WRAPPER", "WRAPPER_MEMORY", "AsyncRow",
           "SyncRow", "async_rows", "generated_options", "sdk_label", "sync_rows", "wrapper_settings"]


@attrs.frozen
class SyncRow:
    """A sync client: ``call()`` makes one request and returns the answer's text (checked at warm-up)."""

    name: str
    call: Callable[[], str]
    close: Callable[[], None]
    note: str = ""


@attrs.frozen
class AsyncRow:
    """An async client: ``await call()`` makes one request and returns the answer's text.

    ``group`` is the table it belongs to: ``httpx`` (httpx's own async transport) or ``aiohttp``.
    """

    name: str
    call: Callable[[], Awaitable[str]]
    close: Callable[[], Awaitable[None]]
    note: str = ""
    group: str = "httpx"


def wrapper_settings(url: str, ledger_url: str, *, layers: bool = True, backend: str = "httpx") -> Any:
    """The wrapper's settings: every layer on (limiter far above the reached rate, breaker, budget, metrics),
    or (``layers=False``) limiter and budget off; ``backend`` is ``TOGETHER_HTTP_BACKEND``."""
    from wrapper import Settings

    if not layers:
        return Settings(api_key=KEY, base_url=url, ledger_url=ledger_url, rate_limit_rpm=None, rate_limit_tpm=None,
                        http_backend=backend)
    return Settings(api_key=KEY, base_url=url, ledger_url=ledger_url, rate_limit_rpm=10_000_000,
                    rate_limit_tpm=10**12, max_estimated_cost=1_000_000, http_backend=backend)


def generated_options(client: Any, transport: Any) -> dict[str, Any]:
    """The httpx client options of a wrapper ``client``, with ``transport`` and without our event hooks."""
    options: dict[str, Any] = client._httpx_options(transport, {})
    return options


def sdk_label(name: str, module: Any) -> str:
    return f"{name} SDK {module.__version__}"


def _text(reply: Any) -> str:
    return str(reply.choices[0].message.content)


def sync_rows(url: str, folder: str) -> list[SyncRow]:
    """Raw httpx, the bare generated call (two ways), the wrapper (SQLite and memory ledger), the SDKs."""
    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import Client as GeneratedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest

    from wrapper import Client

    wrapped_rows: list[SyncRow] = []
    options: dict[str, Any] = {}
    for name, settings, note in (
            (WRAPPER, wrapper_settings(url, f"sqlite://{folder}/ledger-sync.db"),
             "limiter+breaker+budget+SQLite ledger+metrics"),
            (WRAPPER_MEMORY, wrapper_settings(url, "memory"), "as above, in-memory ledger")):
        client = Client(settings)

        def wrapped(client: Client = client) -> str:
            return _text(client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

        wrapped_rows.append(SyncRow(name, wrapped, client.close, note))
        if name == WRAPPER:
            options = generated_options(client, None)  # the sync client uses httpx's own transport

    http = httpx.Client(**options)

    def raw() -> str:
        data = json.loads(http.post("/chat/completions", json=BODY).content)
        return str(data["choices"][0]["message"]["content"])

    gen = GeneratedClient(base_url=url, raise_on_unexpected_status=False)
    gen.set_httpx_client(httpx.Client(**options))
    prebuilt = ChatCompletionRequest.from_dict(BODY)

    def bare() -> str:
        body = ChatCompletionRequest.from_dict(BODY)
        return _text(create_chat_completion.sync_detailed(client=gen, body=body).parsed)

    def bare_reused() -> str:
        return _text(create_chat_completion.sync_detailed(client=gen, body=prebuilt).parsed)

    rows = [SyncRow("raw httpx", raw, http.close, "post + json.loads, same httpx options"),
            SyncRow(BARE, bare, gen.get_httpx_client().close, "from_dict(body) + sync_detailed"),
            SyncRow(BARE_REUSED, bare_reused, lambda: None, "one prebuilt typed body + sync_detailed"),
            *wrapped_rows]
    rows += _sdk_rows(url, is_async=False)
    return rows


async def async_rows(url: str, folder: str) -> list[AsyncRow]:
    """Two groups, each with its bare generated call: httpx's own async transport, and httpx-aiohttp's."""
    import aiohttp
    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import Client as GeneratedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest

    from wrapper import AsyncClient
    from wrapper._transport import build_async_transport

    rows: list[AsyncRow] = []
    for group in ("httpx", "aiohttp"):
        suffix = AIO if group == "aiohttp" else ""
        wrapped_rows: list[AsyncRow] = []
        like_ours: Callable[[], dict[str, Any]] = dict
        for name, ledger, note in ((WRAPPER, f"sqlite://{folder}/ledger-{group}.db",
                                    "limiter+breaker+budget+SQLite ledger+metrics"),
                                   (WRAPPER_MEMORY, "memory", "as above, in-memory ledger")):
            settings = wrapper_settings(url, ledger, backend=group)
            client = AsyncClient(settings)

            async def wrapped(client: AsyncClient = client) -> str:
                reply = await client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
                return _text(reply)

            wrapped_rows.append(AsyncRow(name + suffix, wrapped, client.aclose,
                                         f"{note}, TOGETHER_HTTP_BACKEND={group}", group))
            if name == WRAPPER:  # the same options, each httpx client with its own transport of the same kind
                def like_ours(client: AsyncClient = client, settings: Any = settings) -> dict[str, Any]:
                    return generated_options(client, build_async_transport(settings))
        http = httpx.AsyncClient(**like_ours())

        async def raw_httpx(http: httpx.AsyncClient = http) -> str:
            data = json.loads((await http.post("/chat/completions", json=BODY)).content)
            return str(data["choices"][0]["message"]["content"])

        gen = GeneratedClient(base_url=url, raise_on_unexpected_status=False)
        gen.set_async_httpx_client(httpx.AsyncClient(**like_ours()))

        async def bare(gen: GeneratedClient = gen) -> str:
            body = ChatCompletionRequest.from_dict(BODY)
            return _text((await create_chat_completion.asyncio_detailed(client=gen, body=body)).parsed)

        transport = "httpx's own async transport" if group == "httpx" else "httpx-aiohttp's AiohttpTransport"
        if group == "aiohttp":
            session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"})
            target = f"{url}/chat/completions"

            async def raw_aiohttp(session: aiohttp.ClientSession = session, target: str = target) -> str:
                async with session.post(target, json=BODY) as resp:
                    data = json.loads(await resp.read())
                return str(data["choices"][0]["message"]["content"])

            rows.append(AsyncRow("raw aiohttp", raw_aiohttp, session.close, "post + read + json.loads", group))
        rows.append(AsyncRow("raw httpx" + suffix, raw_httpx, http.aclose, f"post + json.loads, {transport}", group))
        rows.append(AsyncRow(BARE + suffix, bare, gen.get_async_httpx_client().aclose,
                             f"from_dict(body) + asyncio_detailed, {transport}", group))
        rows += wrapped_rows
        rows += _sdk_rows(url, is_async=True, aiohttp=group == "aiohttp")
    return rows


def _sdk_rows(url: str, *, is_async: bool, aiohttp: bool = False) -> list[Any]:
    """The openai and together SDK clients that are installed (``pip install -e '.[bench]'``), defaults kept.

    With ``aiohttp`` the async clients get the SDK's own opt-in ``DefaultAioHttpClient`` (httpx-aiohttp).
    """
    made: list[Any] = []
    for name in SDKS:
        try:
            module = __import__(name)
        except ImportError:
            print(f"({name} is not installed: its rows are skipped; pip install -e '.[bench]')")
            continue
        cls_name = {("openai", False): "OpenAI", ("openai", True): "AsyncOpenAI",
                    ("together", False): "Together", ("together", True): "AsyncTogether"}[(name, is_async)]
        base = url if name == "openai" else url.removesuffix("/v1")  # the together SDK adds /v1 itself
        extra: dict[str, Any] = {}
        if aiohttp:
            extra["http_client"] = module.DefaultAioHttpClient()
        sdk = getattr(module, cls_name)(api_key=KEY, base_url=base, **extra)
        label = sdk_label(name, module)
        if is_async:
            async def acall(sdk: Any = sdk) -> str:
                return _text(await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

            if aiohttp:
                made.append(AsyncRow(label + AIO, acall, sdk.close, f"{cls_name}, its DefaultAioHttpClient",
                                     "aiohttp"))
            else:
                made.append(AsyncRow(label, acall, sdk.close, f"{cls_name}, its default async client"))
        else:
            def call(sdk: Any = sdk) -> str:
                return _text(sdk.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

            made.append(SyncRow(label, call, sdk.close, f"{cls_name}, its default client"))
    return made
