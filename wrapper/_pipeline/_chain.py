"""The fallback chain's steps as the client shells take them: where to start, confirm, and where to go on failure.

The shells (``_async/_completions.py`` and its generated sync twin) loop over a call's models around the wrapped
call; these helpers read the runtime (breakers, clock, settings), ask the pure :class:`~._fallback.ChainState` and
act on its verdict (the ModelFallback event and log line through :meth:`Runtime.fell_back`). No I/O, nothing awaited,
so both shells share them.

A chain of one model (no fallbacks) takes the plain path: it starts at that model, never reads a breaker here,
and every failure is raised as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from ._fallback import dearer, model_chain

if TYPE_CHECKING:
    from .._ledger import Estimate
    from ._runtime import Runtime

__all__ = ["chain_of", "confirm_step", "first_model", "next_model"]


def chain_of(rt: Runtime, model: str | None, fallbacks: Iterable[str] | None) -> tuple[str, ...]:
    """The call's models in order: ``model`` (default ``TOGETHER_MODEL_STAGE1``), then ``fallbacks`` (default
    ``TOGETHER_MODEL_FALLBACKS``; ``[]`` turns them off for this call)."""
    s = rt.settings
    return model_chain(model if model is not None else s.model,
                       s.model_fallbacks if fallbacks is None else fallbacks)


def _pick(rt: Runtime, chain: tuple[str, ...], start: int) -> int | None:
    index, skipped = rt.chain.pick(chain, start, now=rt.clock(), patience=rt.settings.breaker_patience,
                                   is_open=lambda m: rt.breakers.get(m).state == "open")
    if index is not None:
        for model, reason in skipped:  # models found unserved were announced when found; open breakers once
            if reason == "breaker_open" and rt.chain.first_announcement(model):
                rt.fell_back(model, chain[index], reason)
    return index


def first_model(rt: Runtime, chain: tuple[str, ...]) -> int:
    """Where the call starts: the first model not found unserved nor behind a breaker open past the patience."""
    if len(chain) == 1:
        return 0
    index = _pick(rt, chain, 0)
    assert index is not None  # the last model is never skipped
    return index


def confirm_step(rt: Runtime, estimate: Estimate, confirmed: Decimal | None) -> Decimal | None:
    """Confirm the call on this model when it costs more than what was confirmed so far in this call (the first
    model always counts as dearer); returns the new confirmed ceiling.

    Raises:
        ConfirmationRequiredError: above ``CONFIRM_ABOVE_COST`` and not confirmed (no callback, or it said no).
    """
    if dearer(confirmed, estimate.cost):
        rt.confirm(estimate)
        return estimate.cost
    return confirmed


def next_model(rt: Runtime, chain: tuple[str, ...], index: int, error: BaseException) -> int | None:
    """The index to try after ``error`` from ``chain[index]``, or None: raise ``error``.

    Moves on for ``model_not_available`` (remembered: later calls skip the model) and for a breaker that stayed
    open beyond ``TOGETHER_BREAKER_PATIENCE``; each move is a ModelFallback event and a log line.
    """
    if index >= len(chain) - 1:
        return None
    model = chain[index]
    reason = rt.chain.reason_to_leave(model, error, now=rt.clock(), patience=rt.settings.breaker_patience)
    if reason is None:
        return None
    following = _pick(rt, chain, index + 1)
    if following is None:
        return None
    if reason == "breaker_open":
        rt.chain.first_announcement(model)
    rt.fell_back(model, chain[following], reason, getattr(error, "request_id", None))
    return following
