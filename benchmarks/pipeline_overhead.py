"""Benchmark (not a test): the pipeline's CPU per call over the bare generated client, with no sockets at all.

Run: ``.venv/bin/python benchmarks/pipeline_overhead.py [--calls 1000] [--rounds 3]``.

Issue 3 asks for the overhead of the whole pipeline per call vs the bare generated client. Over a real socket
that difference is a small number between two large, noisy ones (see bench_clients.py); here every client gets
the same canned answer from an ``httpx.MockTransport`` (one real answer of the fake Together server, captured
once), so only client-side Python remains: the bare generated client (``ChatCompletionRequest.from_dict`` +
``sync_detailed``/``asyncio_detailed``, which parses the typed response) against ``Client``/``AsyncClient`` with
every layer on (rate limiter far above the reached rate, breaker, budget + SQLite ledger, metrics), with an
in-memory ledger, and with limiter and budget off. Raw httpx (post + ``json.loads``) on the same mock shows
httpx's own share. Calls are sequential; rounds are interleaved; the table shows medians.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_util import machine_line, median, ratio, render_table
from _client_rows import BODY, KEY, MAX_TOKENS, MESSAGES, MODEL, wrapper_settings

BARE = "bare generated client"
SyncCall = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]


def canned_answer() -> tuple[dict[str, str], bytes]:
    """One real chat answer (headers, body) from the fake Together server, captured once."""
    from wrapper.testing import FakeTogetherServer

    with FakeTogetherServer() as server:
        reply = httpx.post(f"{server.url}/chat/completions", json=BODY, headers={"Authorization": f"Bearer {KEY}"})
    reply.raise_for_status()
    return dict(reply.headers), reply.content


def _variants(folder: str) -> list[tuple[str, Any]]:
    url = "http://127.0.0.1:9/v1"  # never contacted: the mock transport answers
    return [("wrapper, every layer on", wrapper_settings(url, f"sqlite://{folder}/ledger.db")),
            ("wrapper, ledger=memory", wrapper_settings(url, "memory")),
            ("wrapper, limiter+budget off", wrapper_settings(url, "memory", layers=False))]


def sync_calls(folder: str, answer: tuple[dict[str, str], bytes]) -> tuple[dict[str, SyncCall], list[Any]]:
    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import AuthenticatedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest

    from wrapper import Client

    headers, content = answer
    mock = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=content))
    http = httpx.Client(base_url="http://127.0.0.1:9/v1", transport=mock, headers={"Authorization": f"Bearer {KEY}"})
    gen = AuthenticatedClient(base_url="http://127.0.0.1:9/v1", token=KEY, httpx_args={"transport": mock})
    calls: dict[str, SyncCall] = {
        "raw httpx": lambda: json.loads(http.post("/chat/completions", json=BODY).content),
        BARE: lambda: create_chat_completion.sync_detailed(client=gen, body=ChatCompletionRequest.from_dict(BODY)),
    }
    closers: list[Any] = [http.close, gen.get_httpx_client().close]
    for name, settings in _variants(folder):
        client = Client(settings, transport=mock)

        def wrapped(c: Client = client) -> object:
            return c.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)

        calls[name] = wrapped
        closers.append(client.close)
    return calls, closers


def async_calls(folder: str, answer: tuple[dict[str, str], bytes]) -> tuple[dict[str, AsyncCall], list[Any]]:
    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import AuthenticatedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest

    from wrapper import AsyncClient

    headers, content = answer

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=content)

    mock = httpx.MockTransport(handler)
    http = httpx.AsyncClient(base_url="http://127.0.0.1:9/v1", transport=mock,
                             headers={"Authorization": f"Bearer {KEY}"})
    gen = AuthenticatedClient(base_url="http://127.0.0.1:9/v1", token=KEY, httpx_args={"transport": mock})

    async def raw() -> object:
        return json.loads((await http.post("/chat/completions", json=BODY)).content)

    async def bare() -> object:
        return await create_chat_completion.asyncio_detailed(client=gen, body=ChatCompletionRequest.from_dict(BODY))

    calls: dict[str, AsyncCall] = {"raw httpx": raw, BARE: bare}
    closers: list[Any] = [http.aclose, gen.get_async_httpx_client().aclose]
    for name, settings in _variants(folder):
        client = AsyncClient(settings, transport=mock)

        async def wrapped(c: AsyncClient = client) -> object:
            return await c.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)

        calls[name] = wrapped
        closers.append(client.aclose)
    return calls, closers


def run_sync(calls: dict[str, SyncCall], n: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(min(n, 300)):
            call()
    for r in range(rounds):
        names = list(calls)
        for name in names[r % len(names):] + names[: r % len(names)]:
            gc.collect()
            cpu = time.process_time()
            for _ in range(n):
                calls[name]()
            out[name].append((time.process_time() - cpu) / n * 1e6)
    return out


async def run_async(calls: dict[str, AsyncCall], n: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(min(n, 300)):
            await call()
    for r in range(rounds):
        names = list(calls)
        for name in names[r % len(names):] + names[: r % len(names)]:
            gc.collect()
            cpu = time.process_time()
            for _ in range(n):
                await calls[name]()
            out[name].append((time.process_time() - cpu) / n * 1e6)
    return out


def report(title: str, results: dict[str, list[float]]) -> None:
    bare = median(results[BARE])
    rows = []
    for name, samples in results.items():
        med = median(samples)
        extra = "-" if name in ("raw httpx", BARE) else f"{med - bare:+,.0f}"
        rows.append([name, f"{med:,.0f}", f"{min(samples):,.0f}-{max(samples):,.0f}", ratio(med, bare), extra])
    print(title)
    print(render_table(["client (mock transport)", "CPU µs/call", "min-max", "x bare", "pipeline µs/call"], rows))
    print()


async def _async_part(folder: str, answer: tuple[dict[str, str], bytes], args: argparse.Namespace) -> None:
    calls, closers = async_calls(folder, answer)
    try:
        results = await run_async(calls, args.calls, args.rounds)
    finally:
        for close in closers:
            await close()
    report(f"ASYNC (sequential awaits), {args.calls:,} calls x {args.rounds} rounds per client", results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="calls per client per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians shown)")
    args = parser.parse_args()
    print(machine_line())
    answer = canned_answer()
    print(f"canned answer: {len(answer[1])} bytes of JSON, {len(answer[0])} headers; no sockets from here on\n")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        calls, closers = sync_calls(folder, answer)
        try:
            results = run_sync(calls, args.calls, args.rounds)
        finally:
            for close in closers:
                close()
        report(f"SYNC, {args.calls:,} calls x {args.rounds} rounds per client", results)
        asyncio.run(_async_part(folder, answer, args))


if __name__ == "__main__":
    main()
