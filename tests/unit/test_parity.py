"""The sync and async shells mirror each other: same public methods, same signatures."""

from __future__ import annotations

import inspect

from wrapper._pipeline._async import _client as _async
from wrapper._pipeline._async import _completions as _async_completions
from wrapper._pipeline._sync import _client as _sync
from wrapper._pipeline._sync import _completions as _sync_completions

# The public namespaces of each shell: chat.completions lives in _completions.py, models in _client.py.
_SYNC: dict[str, type] = {
    "Completions": _sync_completions.Completions, "Chat": _sync_completions.Chat, "Models": _sync.Models}
_ASYNC: dict[str, type] = {
    "Completions": _async_completions.Completions, "Chat": _async_completions.Chat, "Models": _async.Models}


def _surface(classes: dict[str, type]) -> dict[str, list[str]]:
    return {name: sorted(n for n in vars(cls) if not n.startswith("_")) for name, cls in classes.items()}


def test_same_public_methods() -> None:
    """Chat, Completions and Models expose the same methods in both shells."""
    assert _surface(_SYNC) == _surface(_ASYNC)


def test_same_signatures() -> None:
    """create and list take the same parameters; only the client differs by def/async def."""
    for cls_name, meth in (("Completions", "create"), ("Models", "list")):
        sync_sig = inspect.signature(getattr(_SYNC[cls_name], meth))
        async_sig = inspect.signature(getattr(_ASYNC[cls_name], meth))
        assert list(sync_sig.parameters) == list(async_sig.parameters)
        assert inspect.iscoroutinefunction(getattr(_ASYNC[cls_name], meth))
    sync_init = [p for p in inspect.signature(_sync.Client.__init__).parameters if p != "transport"]
    async_init = [p for p in inspect.signature(_async.AsyncClient.__init__).parameters if p != "transport"]
    assert sync_init == async_init


def test_client_methods_mirror() -> None:
    """Client.close/__exit__ mirror AsyncClient.aclose/__aexit__; with_options exists on both."""
    assert hasattr(_sync.Client, "close") and hasattr(_async.AsyncClient, "aclose")
    assert hasattr(_sync.Client, "__exit__") and hasattr(_async.AsyncClient, "__aexit__")
    assert hasattr(_sync.Client, "with_options") and hasattr(_async.AsyncClient, "with_options")
