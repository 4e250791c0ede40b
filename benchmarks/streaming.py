"""Benchmark (not a test): client CPU per streamed chunk, wrapper vs raw httpx vs the openai/together SDKs.

Every client reads the same 64-chunk streams from one fake Together server running in a *separate process*
(so ``time.process_time`` measures the client alone), in the same run, interleaved over several rounds (the
order rotated per round); the table shows the median CPU per chunk and the ratio to raw httpx (``iter_lines`` /
``aiter_lines`` + ``json.loads`` per chunk) on the same transport: sync rows against raw httpx sync, async rows
against raw httpx async on httpx's own transport (the default), ``[aiohttp]`` rows against raw httpx on
httpx-aiohttp's transport (the wrapper with ``TOGETHER_HTTP_BACKEND=aiohttp``). The wrapper runs with every
layer on: limiter (generous), breaker, budget with a SQLite ledger, metrics. Target (issue 11): the wrapper
<= 2x raw httpx per chunk; a verdict line per wrapper row.
Run: ``.venv/bin/python benchmarks/streaming.py [--streams 100] [--rounds 5]``.
The SDKs are optional (``pip install -e '.[bench]'``); missing ones are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from wrapper import AsyncClient, Client, Settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_util import machine_line

TARGET = 2.0
# each row's baseline: the raw httpx row on the same transport
BASE = {"sync": "raw httpx sync", "async": "raw httpx async", "aiohttp": "raw httpx async [aiohttp]"}

CHUNKS = 64
MODEL = "Qwen/Qwen2.5-7B-Instruct-Turbo"
MESSAGES = [{"role": "user", "content": " ".join(f"word{i}" for i in range(80))}]
KEY = "bench-key"

Runner = Callable[[], int]


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The fake server in a child process; returns it and its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "wrapper.testing", "--stream-chunks", str(CHUNKS)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def raw_sync(url: str) -> tuple[Runner, Callable[[], None]]:
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"})
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}

    def run() -> int:
        n = 0
        with http.stream("POST", "/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    if line[6:] == "[DONE]":
                        break
                    json.loads(line[6:])
                    n += 1
        return n

    return run, http.close


def raw_async(url: str, aiohttp: bool = False) -> tuple[Callable[[], Awaitable[int]], Callable[[], Awaitable[None]]]:
    """httpx's own async pool, or (``aiohttp``) the httpx-aiohttp transport the wrapper's AsyncClient uses."""
    transport = None
    if aiohttp:
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport()
    http = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, transport=transport)
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}

    async def run() -> int:
        n = 0
        async with http.stream("POST", "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    if line[6:] == "[DONE]":
                        break
                    json.loads(line[6:])
                    n += 1
        return n

    return run, http.aclose


def wrapper_settings(url: str, folder: str, backend: str = "httpx") -> Settings:
    return Settings(api_key=KEY, base_url=url, ledger_url=f"sqlite://{folder}/ledger-{backend}.db",
                    rate_limit_rpm=10**7, rate_limit_tpm=10**10, max_estimated_cost=10**6, http_backend=backend)


def wrapper_sync(url: str, folder: str) -> tuple[Runner, Callable[[], None]]:
    client = Client(wrapper_settings(url, folder))

    def run() -> int:
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            return sum(1 for _ in stream)

    return run, client.close


def wrapper_async(url: str, folder: str, backend: str = "httpx") -> tuple[Callable[[], Awaitable[int]],
                                                                         Callable[[], Awaitable[None]]]:
    client = AsyncClient(wrapper_settings(url, folder, backend))

    async def run() -> int:
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            return sum([1 async for _ in stream])

    return run, client.aclose


def sdk_clients(url: str) -> dict[str, tuple[Any, bool]]:
    """The installed SDKs' clients, keyed by row name; the flag says async."""
    found: dict[str, tuple[Any, bool]] = {}
    try:
        import openai

        found["openai sync"] = (openai.OpenAI(api_key=KEY, base_url=url, max_retries=0), False)
        found["openai async"] = (openai.AsyncOpenAI(api_key=KEY, base_url=url, max_retries=0), True)
    except ImportError:
        pass
    try:
        import together

        root = url.removesuffix("/v1")  # the together SDK adds /v1 to its paths itself
        found["together sync"] = (together.Together(api_key=KEY, base_url=root, max_retries=0), False)
        found["together async"] = (together.AsyncTogether(api_key=KEY, base_url=root, max_retries=0), True)
    except ImportError:
        pass
    return found


def sdk_runner(sdk: Any, is_async: bool) -> Any:
    if is_async:
        async def arun() -> int:
            stream = await sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            return sum([1 async for _ in stream])

        return arun

    def run() -> int:
        return sum(1 for _ in sdk.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    return run


def measure(run: Runner, streams: int) -> float:
    """CPU seconds per chunk over ``streams`` sequential streams."""
    cpu = time.process_time()
    chunks = 0
    for _ in range(streams):
        chunks += run()
    return (time.process_time() - cpu) / chunks


async def ameasure(run: Callable[[], Awaitable[int]], streams: int) -> float:
    cpu = time.process_time()
    chunks = 0
    for _ in range(streams):
        chunks += await run()
    return (time.process_time() - cpu) / chunks


async def bench(url: str, folder: str, streams: int, rounds: int) -> dict[str, list[float]]:
    sync_runs: dict[str, Runner] = {}
    async_runs: dict[str, Callable[[], Awaitable[int]]] = {}
    closers: list[Callable[[], Any]] = []
    for name, (run, close) in (("raw httpx sync", raw_sync(url)), ("wrapper sync", wrapper_sync(url, folder))):
        sync_runs[name] = run
        closers.append(close)
    for name, (arun, aclose) in (("raw httpx async", raw_async(url)),
                                 ("wrapper async", wrapper_async(url, folder)),
                                 ("raw httpx async [aiohttp]", raw_async(url, aiohttp=True)),
                                 ("wrapper async [aiohttp]", wrapper_async(url, folder, "aiohttp"))):
        async_runs[name] = arun
        closers.append(aclose)
    for name, (sdk, is_async) in sdk_clients(url).items():
        (async_runs if is_async else sync_runs)[name] = sdk_runner(sdk, is_async)
        closers.append(sdk.close)
    results: dict[str, list[float]] = {name: [] for name in (*sync_runs, *async_runs)}
    for name, run in sync_runs.items():  # warm-up: connections, imports, caches
        assert CHUNKS + 1 == run(), name
    for name, arun in async_runs.items():
        assert CHUNKS + 1 == await arun(), name
    for r in range(rounds):
        names = list(sync_runs)
        for name in names[r % len(names):] + names[:r % len(names)]:
            results[name].append(measure(sync_runs[name], streams))
        names = list(async_runs)
        for name in names[r % len(names):] + names[:r % len(names)]:
            results[name].append(await ameasure(async_runs[name], streams))
    for close in closers:
        done = close()
        if asyncio.iscoroutine(done):
            await done
    return results


def base_of(name: str) -> str:
    """The raw httpx row a row is compared with: same kind (sync/async) and same transport."""
    if name.endswith("[aiohttp]"):
        return BASE["aiohttp"]
    return BASE["async" if "async" in name else "sync"]


def table(results: dict[str, list[float]]) -> str:
    lines = [f"{'client':<28} {'µs/chunk (median)':>18} {'min':>8} {'max':>8} {'x raw httpx':>12}  baseline",
             "-" * 106]
    for name, values in results.items():
        base = statistics.median(results[base_of(name)])
        med = statistics.median(values)
        lines.append(f"{name:<28} {med * 1e6:>18.1f} {min(values) * 1e6:>8.1f} {max(values) * 1e6:>8.1f} "
                     f"{med / base:>12.2f}  {base_of(name)}")
    return "\n".join(lines)


def verdicts(results: dict[str, list[float]]) -> list[str]:
    out = []
    for name in results:
        if name.startswith("wrapper"):
            value = statistics.median(results[name]) / statistics.median(results[base_of(name)])
            out.append(f"target streams: {name} <= {TARGET}x {base_of(name)} per chunk: {value:.2f}x "
                       f"({statistics.median(results[name]) * 1e6:.1f} vs "
                       f"{statistics.median(results[base_of(name)]) * 1e6:.1f} µs) -> "
                       f"{'met' if value <= TARGET else 'MISSED'}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100, help="streams per measurement (default 100)")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per client (default 5)")
    args = parser.parse_args()
    print(machine_line())
    proc, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as folder:
            results = asyncio.run(bench(url, folder, args.streams, args.rounds))
    finally:
        proc.terminate()
        proc.wait()
    print(f"{CHUNKS}-chunk streams (+ the usage chunk), {args.streams} streams x {args.rounds} rounds per client, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; server in a separate process\n")
    print(table(results))
    print()
    print("\n".join(verdicts(results)))


if __name__ == "__main__":
    main()
