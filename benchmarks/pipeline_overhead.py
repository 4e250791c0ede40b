"""Benchmark (not a test): our layers' CPU per call over the bare generated call, and its split, no sockets.

Run: ``.venv/bin/python benchmarks/pipeline_overhead.py [--calls 1000] [--rounds 5] [--split-calls 2000]``.

Over a real socket the pipeline's cost is a small difference between two large, noisy numbers (see
bench_clients.py). Here, first, every client gets the same canned answer (one real answer of the fake Together
server, captured once) from an ``httpx.MockTransport``, so only client-side Python remains. Every row runs on an
httpx client with the wrapper's options (taken from a wrapper client) and that same mock transport:

* raw httpx (post + ``json.loads``), and the **bare generated call** -- ``create_chat_completion.sync_detailed`` /
  ``asyncio_detailed`` with a typed body built per call by ``ChatCompletionRequest.from_dict`` (the baseline),
  or one prebuilt body reused (the cheapest bare call), or on the wrapper's own generated client (our two httpx
  event hooks on);
* the whole clients (``client.chat.completions.create``): every layer on with the default SQLite ledger, the
  ledger in memory, limiter and budget off.

Second, the split: the stack built up one decorator at a time around a **no-op endpoint** that returns the
generated ``Response`` of that canned answer (already parsed), on one runtime (limiter far above the reached
rate, breaker, budget, in-memory ledger), each stage called as the client calls it, ``prepare()`` building the
call and the typed body. With httpx out of the way, the differences between stages (paired per round) are
small numbers over a small floor, so they survive a shared machine: prepare, the attempt layer, metrics + log,
limiter, breaker, retry, the ledger (memory, and SQLite over memory).

The split uses the pipeline's private pieces (``SyncStack``/``AsyncStack`` methods, ``prepare``): it measures
the code the clients run, and breaks loudly if that is rebuilt. Calls are sequential; rounds are interleaved,
the order rotated per round; tables show medians.
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
from _client_rows import BODY, KEY, MAX_TOKENS, MESSAGES, MODEL, generated_options, wrapper_settings

URL = "http://127.0.0.1:9/v1"  # never contacted: the mock transport answers
BARE = "bare generated call"
REUSED = "bare generated, body reused"
HOOKED = "bare generated, our httpx hooks on"
W_SQLITE = "client, every layer on (SQLite ledger)"
W_MEMORY = "client, ledger=memory"
W_OFF = "client, limiter+budget off"
N_FLOOR = "no-op endpoint alone"
N_PREP = "prepare() + no-op endpoint"
N_QUIET = "prepare + attempt layer, metrics+log off"
N_ATTEMPT = "prepare + attempt layer"
N_LIMITER = "  + limiter"
N_BREAKER = "  + breaker"
N_RETRY = "  + retry (backoff)"
N_LEDGER = "  + ledger (memory): the whole stack"
N_SQLITE = "the whole stack, SQLite ledger"
# (what, later stage, earlier stage): the split, from paired per-round differences
SPLIT = [
    ("prepare(): validate, bound + estimate, typed body", N_PREP, N_FLOOR),
    ("attempt layer: deadline, verdict, limiter hints", N_QUIET, N_PREP),
    ("metrics + log (one sample, one record)", N_ATTEMPT, N_QUIET),
    ("limiter (acquire, FIFO line, breaker pre-check)", N_LIMITER, N_ATTEMPT),
    ("breaker (circuitbreaker decorator)", N_BREAKER, N_LIMITER),
    ("retry (backoff.on_exception)", N_RETRY, N_BREAKER),
    ("ledger, memory (reserve + settle)", N_LEDGER, N_RETRY),
    ("SQLite ledger over the memory one", N_SQLITE, N_LEDGER),
    ("the whole stack, SQLite, over the no-op endpoint", N_SQLITE, N_FLOOR),
]
Call = Callable[[], Any]


def canned_answer() -> tuple[dict[str, str], bytes]:
    """One real chat answer (headers, body) from the fake Together server, captured once."""
    from wrapper.testing import FakeTogetherServer

    with FakeTogetherServer() as server:
        reply = httpx.post(f"{server.url}/chat/completions", json=BODY, headers={"Authorization": f"Bearer {KEY}"})
    reply.raise_for_status()
    return dict(reply.headers), reply.content


class Built:
    """The rows of one half (sync or async): the mock-transport comparison, the split, and the closers."""

    def __init__(self) -> None:
        self.rows: dict[str, Call] = {}
        self.split: dict[str, Call] = {}
        self.closers: list[Call] = []


def build(folder: str, answer: tuple[dict[str, str], bytes], is_async: bool) -> Built:
    """Every row's call (a coroutine function when ``is_async``) and the closers."""
    from http import HTTPStatus

    from together_api_client.api.chat import create_chat_completion
    from together_api_client.client import Client as GeneratedClient
    from together_api_client.models.chat_completion_request import ChatCompletionRequest
    from together_api_client.models.chat_completion_response import ChatCompletionResponse
    from together_api_client.types import Response

    from wrapper import AsyncClient, Client
    from wrapper._pipeline._async._stack import AsyncStack
    from wrapper._pipeline._call import prepare
    from wrapper._pipeline._sync._stack import SyncStack
    from wrapper._policies._retry import retrying

    out = Built()
    headers, content = answer
    if is_async:
        async def ahandler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers=headers, content=content)

        mock = httpx.MockTransport(ahandler)
    else:
        mock = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=content))
    cls: Any = AsyncClient if is_async else Client

    def client(settings: Any) -> Any:
        made = cls(settings, transport=mock)
        out.closers.append(made.aclose if is_async else made.close)
        return made

    sqlite, memory, off = (client(wrapper_settings(URL, f"sqlite://{folder}/ledger-{int(is_async)}.db")),
                           client(wrapper_settings(URL, "memory")),
                           client(wrapper_settings(URL, "memory", layers=False)))
    quiet = client(wrapper_settings(URL, "memory"))
    quiet._rt._sample_ok = lambda call, usage: None  # metrics + log of a successful attempt, off
    options = generated_options(memory, mock)
    http: Any = (httpx.AsyncClient if is_async else httpx.Client)(**options)
    gen = GeneratedClient(base_url=URL, raise_on_unexpected_status=False)
    if is_async:
        gen.set_async_httpx_client(httpx.AsyncClient(**options))
    else:
        gen.set_httpx_client(httpx.Client(**options))
    hooked = memory._api  # the wrapper's own generated client: the same options plus our event hooks
    out.closers += [http.aclose if is_async else http.close,
                    gen.get_async_httpx_client().aclose if is_async else gen.get_httpx_client().close]
    prebuilt = ChatCompletionRequest.from_dict(BODY)

    def whole(made: Any) -> Call:
        create = made.chat.completions.create
        return lambda: create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)  # a coroutine when async

    def generated(on: Any, reuse: bool) -> Call:
        if is_async:
            async def acall() -> Any:
                body = prebuilt if reuse else ChatCompletionRequest.from_dict(BODY)
                return (await create_chat_completion.asyncio_detailed(client=on, body=body)).parsed

            return acall

        def scall() -> Any:
            body = prebuilt if reuse else ChatCompletionRequest.from_dict(BODY)
            return create_chat_completion.sync_detailed(client=on, body=body).parsed

        return scall

    if is_async:
        async def araw() -> Any:
            return json.loads((await http.post("/chat/completions", json=BODY)).content)

        raw: Call = araw
    else:
        def sraw() -> Any:
            return json.loads(http.post("/chat/completions", json=BODY).content)

        raw = sraw
    out.rows = {"raw httpx": raw, BARE: generated(gen, False), REUSED: generated(gen, True),
                HOOKED: generated(hooked, False), W_SQLITE: whole(sqlite), W_MEMORY: whole(memory), W_OFF: whole(off)}

    # the split: the stack around a no-op endpoint that returns the canned answer, already parsed
    canned = Response(status_code=HTTPStatus.OK, content=content, headers=httpx.Headers(headers),
                      parsed=ChatCompletionResponse.from_dict(json.loads(content)))
    if is_async:
        async def anoop(**kwargs: Any) -> Any:
            return canned

        noop: Any = anoop
    else:
        def snoop(**kwargs: Any) -> Any:
            return canned

        noop = snoop

    def stages(made: Any) -> dict[str, Any]:
        rt = made._rt
        stack = (AsyncStack if is_async else SyncStack)(rt)
        fn = stack._attempt(noop)
        staged = {"attempt": fn}
        fn = stack._limited(fn)
        staged["limiter"] = fn
        fn = rt.breakers.decorate(fn)
        staged["breaker"] = fn
        fn = retrying(fn, rt.retry_policy, env=rt.wait_env, on_backoff=rt.retry_scheduled, on_giveup=rt.gave_up)
        staged["retry"] = fn
        staged["ledger"] = stack._ledgered(fn)
        return staged

    def prepared(made: Any, fn: Any) -> Call:
        rt, api = made._rt, made._api
        if is_async:
            async def acall() -> Any:
                call, body = prepare(rt, messages=MESSAGES, model=MODEL, params={"max_tokens": MAX_TOKENS},
                                     confirm=False)
                return await fn(call, client=api, body=body)

            return acall

        def scall() -> Any:
            call, body = prepare(rt, messages=MESSAGES, model=MODEL, params={"max_tokens": MAX_TOKENS},
                                 confirm=False)
            return fn(call, client=api, body=body)

        return scall

    def floor_only() -> Any:  # the endpoint alone (a coroutine when async)
        return noop(client=None, body=prebuilt)

    def prep_only(made: Any) -> Call:
        def prep(call: Any, **kwargs: Any) -> Any:
            return noop(**kwargs)

        return prepared(made, prep)

    built, quiet_built, sqlite_built = stages(memory), stages(quiet), stages(sqlite)
    out.split = {N_FLOOR: floor_only, N_PREP: prep_only(memory),
                 N_QUIET: prepared(quiet, quiet_built["attempt"]), N_ATTEMPT: prepared(memory, built["attempt"]),
                 N_LIMITER: prepared(memory, built["limiter"]), N_BREAKER: prepared(memory, built["breaker"]),
                 N_RETRY: prepared(memory, built["retry"]), N_LEDGER: prepared(memory, built["ledger"]),
                 N_SQLITE: prepared(sqlite, sqlite_built["ledger"])}
    return out


def rotated(names: list[str], r: int) -> list[str]:
    k = r % len(names)
    return names[k:] + names[:k]


def run_sync(calls: dict[str, Call], n: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(min(n, 300)):
            call()
    for r in range(rounds):
        for name in rotated(list(calls), r):
            call = calls[name]
            gc.collect()
            cpu = time.process_time()
            for _ in range(n):
                call()
            out[name].append((time.process_time() - cpu) / n * 1e6)
    return out


async def run_async(calls: dict[str, Callable[[], Awaitable[Any]]], n: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(min(n, 300)):
            await call()
    for r in range(rounds):
        for name in rotated(list(calls), r):
            call = calls[name]
            gc.collect()
            cpu = time.process_time()
            for _ in range(n):
                await call()
            out[name].append((time.process_time() - cpu) / n * 1e6)
    return out


def paired(results: dict[str, list[float]], later: str, earlier: str) -> float:
    return median([a - b for a, b in zip(results[later], results[earlier], strict=True)])


def report(title: str, results: dict[str, list[float]], split: dict[str, list[float]]) -> None:
    bare = median(results[BARE])
    rows = []
    for name, samples in results.items():
        med = median(samples)
        extra = "-" if name in ("raw httpx", BARE) else f"{paired(results, name, BARE):+,.0f}"
        rows.append([name, f"{med:,.0f}", f"{min(samples):,.0f}-{max(samples):,.0f}", ratio(med, bare), extra])
    print(title)
    print(render_table(["row (mock transport, our httpx options)", "CPU µs/call", "min-max", "x bare",
                        "µs over bare"], rows))
    value = median(results[W_SQLITE]) / bare
    print(f"verdict: {W_SQLITE} <= 1.15x {BARE} (no sockets): {value:.2f}x -> {'met' if value <= 1.15 else 'MISSED'}"
          f"; vs the {REUSED}: {median(results[W_SQLITE]) / median(results[REUSED]):.2f}x; our hooks: "
          f"{paired(results, HOOKED, BARE):+,.0f} µs\n")
    print("the stack around a no-op endpoint (stages built up one decorator at a time):")
    print(render_table(["stage", "CPU µs/call", "min-max"],
                       [[name, f"{median(v):,.1f}", f"{min(v):,.0f}-{max(v):,.0f}"] for name, v in split.items()]))
    print("\nthe split (paired per-round differences of those stages, µs CPU per call):")
    print(render_table(["layer", "µs/call", "stages"],
                       [[what, f"{paired(split, later, earlier):+,.1f}", f"'{later.strip()}' - '{earlier.strip()}'"]
                        for what, later, earlier in SPLIT]))
    print()


async def _async_part(folder: str, answer: tuple[dict[str, str], bytes], args: argparse.Namespace) -> None:
    built = build(folder, answer, is_async=True)
    try:
        results = await run_async(built.rows, args.calls, args.rounds)
        split = await run_async(built.split, args.split_calls, args.rounds * 2)
    finally:
        for close in built.closers:
            await close()
    report(f"ASYNC (sequential awaits), {args.calls:,} calls x {args.rounds} rounds per row; split "
           f"{args.split_calls:,} x {args.rounds * 2}", results, split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="calls per row per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians shown)")
    parser.add_argument("--split-calls", type=int, default=2000, help="calls per split stage per round")
    parser.add_argument("--only", choices=("sync", "async"), default=None, help="run one half only")
    args = parser.parse_args()
    print(machine_line())
    answer = canned_answer()
    print(f"canned answer: {len(answer[1])} bytes of JSON, {len(answer[0])} headers; no sockets from here on\n")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        if args.only in (None, "sync"):
            built = build(folder, answer, is_async=False)
            try:
                results = run_sync(built.rows, args.calls, args.rounds)
                split = run_sync(built.split, args.split_calls, args.rounds * 2)
            finally:
                for close in built.closers:
                    close()
            report(f"SYNC, {args.calls:,} calls x {args.rounds} rounds per row; split {args.split_calls:,} x "
                   f"{args.rounds * 2}", results, split)
        if args.only in (None, "async"):
            asyncio.run(_async_part(folder, answer, args))


if __name__ == "__main__":
    main()
