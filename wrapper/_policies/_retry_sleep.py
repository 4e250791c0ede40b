"""Test hook: make backoff's retry loops sleep with injected functions, on a clock that stands still.

Only the tests use it; it swaps names on backoff's private ``_sync`` and ``_async`` modules.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

__all__ = ["sleeping_with"]


@contextlib.contextmanager
def sleeping_with(sleep: Callable[[float], None], asleep: Callable[[float], Any]) -> Iterator[None]:
    """Make backoff's retry loops sleep with ``sleep`` / ``asleep`` (tests: record waits, never wait).

    backoff sleeps with ``time.sleep`` / ``asyncio.sleep`` and measures ``max_time`` with ``datetime.now()``, each
    looked up on its own modules; this swaps those names on backoff's modules only (never on ``time``, ``asyncio``
    or ``datetime`` themselves) and restores them on exit. backoff's clock stands still meanwhile, so only
    :func:`~._retry.hinted_waits`, on the client's injected clock, decides the deadline -- as it does in production,
    where backoff's ``max_time`` is the same deadline measured on the wall clock, a backstop.
    """
    import asyncio

    from backoff import _async, _sync

    frozen = types.SimpleNamespace(datetime=_FrozenDatetime)
    names = (("time", _sync, types.SimpleNamespace(sleep=sleep)), ("asyncio", _async, _Proxy(asyncio, sleep=asleep)),
             ("datetime", _sync, frozen), ("datetime", _async, frozen))
    saved = [(module, name, getattr(module, name)) for name, module, _ in names]
    for name, module, stand_in in names:
        setattr(module, name, stand_in)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


class _FrozenDatetime:
    """``datetime.datetime`` as backoff uses it, with a clock that never moves."""

    _at = datetime(2026, 1, 1)

    @classmethod
    def now(cls) -> Any:
        return cls._at


class _Proxy:
    """A module stand-in: the given attributes, everything else from the module."""

    def __init__(self, module: types.ModuleType, **overrides: Any) -> None:
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)
