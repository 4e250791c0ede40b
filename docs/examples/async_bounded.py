"""Async with bounded concurrency: many prompts, at most ``LIMIT`` in flight, results in input order.

The client's own rate limiter already keeps requests under TOGETHER_RATE_LIMIT_RPM; the semaphore bounds how
many calls wait at once, so memory stays flat and no call queues longer than TOGETHER_RATE_LIMIT_MAX_WAIT.

Run: TOGETHER_API_KEY=... python docs/examples/async_bounded.py
"""

from __future__ import annotations

import asyncio

from wrapper import AsyncClient, ChatCompletionResponse, TogetherError

LIMIT = 8
PROMPTS = [f"Give one word that rhymes with {word!r}." for word in ("cat", "tree", "light", "stone", "rain") * 4]


async def ask(client: AsyncClient, gate: asyncio.Semaphore, prompt: str) -> ChatCompletionResponse:
    async with gate:  # at most LIMIT calls past this line at any moment
        return await client.chat.completions.create(messages=[{"role": "user", "content": prompt}], max_tokens=8)


async def main() -> None:
    gate = asyncio.Semaphore(LIMIT)
    async with AsyncClient() as client:
        # return_exceptions=True: one failed prompt does not cancel the others
        results = await asyncio.gather(*(ask(client, gate, p) for p in PROMPTS), return_exceptions=True)
        failed = 0
        for prompt, result in zip(PROMPTS, results, strict=True):
            if isinstance(result, TogetherError):
                failed += 1
                print(f"FAILED {prompt!r}: {type(result).__name__}: {result}")
            elif isinstance(result, BaseException):
                raise result  # a bug, not an API failure
            else:
                print(f"{prompt!r} -> {result.choices[0].message.content!r}")
        snap = client.metrics.snapshot()
        print(f"{len(PROMPTS) - failed} ok, {failed} failed, {snap.retries} retries, p95 {snap.latency_p95_s} s")


if __name__ == "__main__":
    asyncio.run(main())
