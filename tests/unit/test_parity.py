"""The sync and async shells mirror each other: same public methods, same signatures."""

from __future__ import annotations

import inspect

from wrapper._pipeline._async import _client as _async
from wrapper._pipeline._sync import _client as _sync


def _surface(module: object) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cls_name in ("Completions", "Chat", "Models"):
        cls = getattr(module, cls_name)
        out[cls_name] = sorted(n for n in vars(cls) if not n.startswith("_"))
    return out


def test_same_public_methods() -> None:
    """Chat, Completions and Models expose the same methods in both shells."""
    assert _surface(_sync) == _surface(_async)


def test_same_signatures() -> None:
    """create and list take the same parameters; only the client differs by def/async def."""
    for cls_name, meth in (("Completions", "create"), ("Models", "list")):
        sync_sig = inspect.signature(getattr(getattr(_sync, cls_name), meth))
        async_sig = inspect.signature(getattr(getattr(_async, cls_name), meth))
        assert list(sync_sig.parameters) == list(async_sig.parameters)
        assert inspect.iscoroutinefunction(getattr(getattr(_async, cls_name), meth))
    sync_init = [p for p in inspect.signature(_sync.Client.__init__).parameters if p != "transport"]
    async_init = [p for p in inspect.signature(_async.AsyncClient.__init__).parameters if p != "transport"]
    assert sync_init == async_init


def test_client_methods_mirror() -> None:
    """Client.close/__exit__ mirror AsyncClient.aclose/__aexit__; with_options exists on both."""
    assert hasattr(_sync.Client, "close") and hasattr(_async.AsyncClient, "aclose")
    assert hasattr(_sync.Client, "__exit__") and hasattr(_async.AsyncClient, "__aexit__")
    assert hasattr(_sync.Client, "with_options") and hasattr(_async.AsyncClient, "with_options")
