"""The few primitives that differ between the async shell and the sync one generated from it.

The shells are written once, as async code in ``_async/``; ``scripts/generate_sync.py`` writes ``_sync/`` from it by
renaming tokens (``async``/``await`` dropped, ``aoffload`` -> ``offload``, ``AsyncDeadline`` -> ``SyncDeadline``,
...). What cannot be a renaming lives here as a pair: the async name and the sync name side by side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeAlias, TypeVar

from .._deadline import AsyncDeadline, SyncDeadline

__all__ = ["AsyncDeadline", "AsyncEndpoint", "AsyncSleep", "SyncDeadline", "SyncEndpoint", "SyncSleep", "aoffload",
           "asleep", "async_loop", "offload", "sleep", "sync_loop"]

P = ParamSpec("P")
T = TypeVar("T")

AsyncEndpoint: TypeAlias = Callable[..., Awaitable[Any]]
"""An endpoint function or a layer of the stack, async: ``await fn(call, **kwargs)``."""
SyncEndpoint: TypeAlias = Callable[..., Any]
"""The sync twin of :data:`AsyncEndpoint`."""
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]
"""How the async client's rate-limit line waits (tests pass a recorder)."""
SyncSleep: TypeAlias = Callable[[float], None]
"""How the sync client's rate-limit line waits."""

asleep = asyncio.sleep
sleep = time.sleep


async def aoffload(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking ``fn`` (a database or file write) in a worker thread: the event loop never waits on it."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def offload(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """The sync twin of :func:`aoffload`: the calling thread is the worker."""
    return fn(*args, **kwargs)


def async_loop() -> object:
    """The running event loop: an async client's connections belong to the loop they were made on."""
    return asyncio.get_running_loop()


def sync_loop() -> object:
    """The sync twin of :func:`async_loop`: there is no loop, so connections never need rebuilding."""
    return None
