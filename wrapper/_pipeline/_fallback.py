"""The fallback chain's pure decisions: the order of models, which are known not served, and which to try next.

A call names a model (or takes ``TOGETHER_MODEL_STAGE1``) and may have fallbacks (``fallbacks=[...]`` or
``TOGETHER_MODEL_FALLBACKS``). :func:`model_chain` puts them in order; the client shell loops over that chain
around the wrapped call and asks :class:`ChainState` what to do:

* :meth:`ChainState.pick` -- the first model from a position on that is worth trying: not found unserved earlier
  in this client's life, and not behind a breaker that has stayed open for ``patience`` seconds. The last model of
  a chain is always tried (its own answer is a better error than one we make up).
* :meth:`ChainState.reason_to_leave` -- whether a failure moves the chain on: ``model_not_available`` (the model is
  remembered as unserved), or a breaker that stays open beyond the patience.

Nothing here sleeps or does I/O; the clock reading and the breaker states are passed in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Literal

from .._errors import CircuitOpenError, ModelNotAvailableError

__all__ = ["ChainState", "Reason", "dearer", "model_chain", "parse_model_list"]

Reason = Literal["model_not_available", "not_listed", "breaker_open"]
"""Why the chain moved: Together answered ``model_not_available``, ``/models`` does not list the model, or the
model's breaker stayed open longer than ``TOGETHER_BREAKER_PATIENCE``."""


def parse_model_list(raw: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: a comma-separated list of model ids (``none``/empty: no models)."""
    text = raw.strip()
    if text.lower() in ("", "none", "off"):
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def model_chain(primary: str, fallbacks: Iterable[str]) -> tuple[str, ...]:
    """The models a call may use, in order: ``primary`` (as given: the request's validation judges it) then each
    fallback, without repeats (any letter case) or blanks."""
    chain: list[str] = [primary]
    seen: set[str] = {primary.strip().casefold()} if isinstance(primary, str) else set()
    for model in fallbacks:
        key = model.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            chain.append(model.strip())
    return tuple(chain)


def dearer(confirmed: Decimal | None, cost: Decimal | None) -> bool:
    """Whether a switch to a call costing ``cost`` (worst case) needs a new confirmation: it costs more than what
    this call was confirmed at, or nothing was confirmed yet. An unknown cost is never "dearer" (it cannot be
    compared; under a budget the ledger refuses it anyway)."""
    return cost is not None and (confirmed is None or cost > confirmed)


class ChainState:
    """What the chain learned during one client's life: models found not served, and how long breakers stay open.

    Shared by every call of a client (and its ``with_options`` copies); thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unserved: dict[str, str] = {}  # casefold -> id as first seen
        self._open_since: dict[str, float] = {}  # casefold -> when the breaker left "closed"
        self._announced: set[str] = set()  # breaker skips already reported in the current open period

    # ------------------------------------------------------------ what was learned
    def mark_unserved(self, model: str) -> bool:
        """Remember ``model`` as not served; True the first time."""
        key = model.casefold()
        with self._lock:
            new = key not in self._unserved
            self._unserved.setdefault(key, model)
        return new

    def is_unserved(self, model: str) -> bool:
        """Whether ``model`` was found not served earlier."""
        return model.casefold() in self._unserved

    @property
    def unserved(self) -> tuple[str, ...]:
        """The models found not served, as first spelled, in the order they were found."""
        with self._lock:
            return tuple(self._unserved.values())

    def breaker_moved(self, model: str, new: str, now: float) -> None:
        """A breaker transition: leaving ``closed`` starts the open period, ``closed`` ends it."""
        key = model.casefold()
        with self._lock:
            if new == "closed":
                self._open_since.pop(key, None)
                self._announced.discard(key)
            else:
                self._open_since.setdefault(key, now)

    def open_for(self, model: str, now: float) -> float | None:
        """Seconds since ``model``'s breaker left ``closed`` (None while it is closed)."""
        since = self._open_since.get(model.casefold())
        return None if since is None else max(0.0, now - since)

    def gave_up_on(self, model: str, now: float, patience: float) -> bool:
        """Whether ``model``'s breaker has stayed open (or half-open) for at least ``patience`` seconds."""
        open_for = self.open_for(model, now)
        return open_for is not None and open_for >= patience

    # ------------------------------------------------------------ decisions
    def pick(self, chain: Sequence[str], start: int, *, now: float, patience: float,
             is_open: Callable[[str], bool]) -> tuple[int | None, list[tuple[str, Reason]]]:
        """The index of the first model from ``start`` on worth trying, and the models skipped on the way.

        Skipped: a model found not served (``model_not_available``), or one whose breaker is open now and has been
        for ``patience`` seconds (``breaker_open``; a half-open breaker is tried: the call may be its probe). The
        last model is never skipped. Returns ``(None, [])`` when ``start`` is past the end.
        """
        skipped: list[tuple[str, Reason]] = []
        for index in range(start, len(chain)):
            model = chain[index]
            if index == len(chain) - 1:
                return index, skipped
            if self.is_unserved(model):
                skipped.append((model, "model_not_available"))
            elif is_open(model) and self.gave_up_on(model, now, patience):
                skipped.append((model, "breaker_open"))
            else:
                return index, skipped
        return None, skipped

    def reason_to_leave(self, model: str, error: BaseException, *, now: float, patience: float) -> Reason | None:
        """Whether ``error`` from a call on ``model`` moves the chain on, and why (None: raise it).

        ``model_not_available`` always does (and the model is remembered as unserved). A refusal by an open breaker,
        or a failure that left the breaker open, does once the breaker has stayed open ``patience`` seconds.
        """
        if isinstance(error, ModelNotAvailableError):
            self.mark_unserved(model)
            return "model_not_available"
        breaker_open = isinstance(error, CircuitOpenError) or getattr(error, "circuit_open_for", None) is not None
        if breaker_open and self.gave_up_on(model, now, patience):
            return "breaker_open"
        return None

    def first_announcement(self, model: str) -> bool:
        """True once per open period of ``model``'s breaker: a skip to report (later skips are only logged)."""
        key = model.casefold()
        with self._lock:
            if key in self._announced:
                return False
            self._announced.add(key)
            return True
