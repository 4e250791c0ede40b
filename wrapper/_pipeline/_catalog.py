"""The served-model catalogue: ``GET /models`` boiled down, cached with its date, and the answer of a model check.

``client.models.check(model)`` answers "is this model served, is it a chat model, what does it cost, and if it is
gone, which served chat models are closest?" from :class:`Listing` entries:

* :func:`listing_from` turns the generated ``ModelInfo`` list into plain entries (pure);
* :func:`closest` ranks served chat models by family, size, version and price (pure);
* :func:`check_model` builds the typed :class:`ModelCheck` (pure);
* :func:`load_listing` / :func:`save_listing` keep the listing on disk beside the price cache
  (``$XDG_CACHE_HOME/together-wrapper/models.json``) with its date and the base URL it came from, so a listing
  from another server (a test's fake, a proxy) is never taken for Together's. The shells run them off the loop.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import attrs

from .._ledger._pricing import default_price_cache_path
from .._types import ModelInfo, Pricing

__all__ = [
    "LISTING_MAX_AGE", "Listing", "ModelAlternative", "ModelCheck", "check_model", "closest",
    "default_models_cache_path", "listing_from", "load_listing", "save_listing", "unknown_check",
]  # fmt: skip

LISTING_MAX_AGE = timedelta(hours=1)
"""A listing on disk younger than this is used instead of asking ``/models`` again."""
ALTERNATIVES = 5

Status = Literal["served", "not_served", "unknown"]


@attrs.frozen
class ModelAlternative:
    """A served chat model offered in place of one that is not served, with its price (USD per 1M tokens).

    Attributes:
        id: the model id, as ``GET /models`` spells it.
        input_price: USD per 1M prompt tokens (None when ``/models`` gives no per-token price).
        output_price: USD per 1M completion tokens (None likewise).
        context_length: the model's context window in tokens, when listed.
    """

    id: str
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    context_length: int | None = None

    def describe(self) -> str:
        """``"Qwen/Qwen2.5-7B-Instruct-Turbo ($0.30 in / $0.30 out per 1M tokens)"``."""
        if self.input_price is None or self.output_price is None:
            return f"{self.id} (price not listed)"
        return f"{self.id} (${self.input_price} in / ${self.output_price} out per 1M tokens)"


@attrs.frozen
class ModelCheck:
    """The answer of ``client.models.check(model)``.

    Attributes:
        model: the model id that was checked.
        status: ``"served"`` (listed by ``GET /models``), ``"not_served"`` (not listed), or ``"unknown"``
            (the listing could not be read: offline, an error; see ``warning``).
        type: the listed type (``chat``, ``language``, ``embedding``, ...), None when not listed.
        input_price: USD per 1M prompt tokens, when listed.
        output_price: USD per 1M completion tokens, when listed.
        alternatives: the closest served chat models (same family, similar size), best first, with prices.
        fetched_at: when the listing the answer comes from was fetched (None when unknown).
        warning: why the answer is ``unknown``, or that the model is served but is not a chat model.
    """

    model: str
    status: Status
    type: str | None = None
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    alternatives: tuple[ModelAlternative, ...] = ()
    fetched_at: datetime | None = None
    warning: str | None = None

    @property
    def served(self) -> bool | None:
        """True when listed, False when not, None when unknown."""
        return None if self.status == "unknown" else self.status == "served"

    @property
    def chat(self) -> bool | None:
        """Whether it is a chat model (None when not listed or unknown)."""
        return None if self.type is None else self.type == "chat"

    def describe(self) -> str:
        """One readable paragraph: the verdict, and the closest served chat models with their prices."""
        if self.status == "unknown":
            return f"could not check {self.model}: {self.warning}"
        if self.status == "served":
            return f"{self.model} is served" + (f"; {self.warning}" if self.warning else "")
        lines = [f"{self.model} is not served by Together (not in GET /models)."]
        if self.alternatives:
            lines.append("Closest served chat models:")
            lines.extend(f"  {alt.describe()}" for alt in self.alternatives)
        lines.append("Pick one with --model or TOGETHER_MODEL_STAGE1 (list them: together-wrapper models --type chat), "
                     "or add fallbacks with --fallback / TOGETHER_MODEL_FALLBACKS.")
        return "\n".join(lines)


@attrs.frozen
class Listing:
    """One ``GET /models`` entry, boiled down to what a check needs."""

    id: str
    type: str | None = None
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    context_length: int | None = None

    def as_alternative(self) -> ModelAlternative:
        """This entry offered as an alternative."""
        return ModelAlternative(self.id, self.input_price, self.output_price, self.context_length)


def _price(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        price = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None


def listing_from(models: Iterable[ModelInfo]) -> tuple[Listing, ...]:
    """Boil the generated ``ModelInfo`` entries down (a 0/0 price counts as not listed: not billed per token)."""
    out = []
    for m in models:
        pricing = m.pricing if isinstance(m.pricing, Pricing) else None
        inp = _price(pricing.input_) if pricing is not None else None
        outp = _price(pricing.output) if pricing is not None else None
        if not inp and not outp:
            inp = outp = None
        out.append(Listing(id=m.id, type=m.type_ if isinstance(m.type_, str) else None, input_price=inp,
                           output_price=outp,
                           context_length=m.context_length if isinstance(m.context_length, int) else None))
    return tuple(out)


# ---------------------------------------------------------------- ranking (pure)
_SIZE = re.compile(r"(?<![\d.])(?:(\d+)x)?(\d+(?:\.\d+)?)b(?![a-z])")
_FAMILY = re.compile(r"([a-z]+)[-_ ]?v?(\d+(?:\.\d+)?)?")
_VENDOR_WORDS = frozenset({"meta", "instruct", "chat", "turbo", "it", "hf", "free", "lite", "pro"})


def _size(name: str) -> float | None:
    """Parameters in billions from a model id (``32B`` -> 32, ``8x7B`` -> 56), None when it does not say."""
    found = _SIZE.search(name.lower())
    if found is None:
        return None
    experts = int(found.group(1)) if found.group(1) else 1
    return experts * float(found.group(2))


def _family(name: str) -> tuple[str, str]:
    """(family, version) from a model id: ``Qwen/Qwen2.5-32B-...`` -> ("qwen", "2.5"),
    ``meta-llama/Meta-Llama-3.1-8B-...`` -> ("llama", "3.1")."""
    base = name.rsplit("/", 1)[-1].lower()
    for found in _FAMILY.finditer(base):
        word = found.group(1)
        if word not in _VENDOR_WORDS and len(word) > 1:
            return word, found.group(2) or ""
    return base, ""


def closest(model: str, listing: Sequence[Listing], limit: int = ALTERNATIVES) -> tuple[ModelAlternative, ...]:
    """The served chat models nearest to ``model``, best first. Pure.

    Nearest means, in this order: the same family (Qwen, Llama, ...), then the closest size (by ratio of
    parameters: 32B is nearer 72B than 7B), then the same version, then the cheaper, then by id.
    """
    family, version = _family(model)
    size = _size(model)

    def key(entry: Listing) -> tuple[int, float, int, Decimal, str]:
        other_family, other_version = _family(entry.id)
        other_size = _size(entry.id)
        distance = abs(math.log(other_size / size)) if size and other_size else 99.0
        price = (entry.input_price or Decimal(0)) + (entry.output_price or Decimal(0)) \
            if entry.input_price is not None or entry.output_price is not None else Decimal("Infinity")
        return (int(other_family != family), round(distance, 3), int(other_version != version), price, entry.id)

    chat = [e for e in listing if e.type == "chat" and e.id.casefold() != model.casefold()]
    return tuple(e.as_alternative() for e in sorted(chat, key=key)[:limit])


def check_model(model: str, listing: Sequence[Listing], fetched_at: datetime | None) -> ModelCheck:
    """The check's answer from a listing that was read. Pure."""
    found = next((e for e in listing if e.id.casefold() == model.casefold()), None)
    if found is None:
        return ModelCheck(model, "not_served", alternatives=closest(model, listing), fetched_at=fetched_at)
    warning = None if found.type == "chat" else f"it is listed as a {found.type or 'untyped'} model, not a chat model"
    alternatives = () if found.type == "chat" else closest(model, listing)
    return ModelCheck(model, "served", type=found.type, input_price=found.input_price,
                      output_price=found.output_price, alternatives=alternatives, fetched_at=fetched_at,
                      warning=warning)


def unknown_check(model: str, error: BaseException) -> ModelCheck:
    """The answer when ``/models`` could not be read: unknown, with the reason as a warning."""
    return ModelCheck(model, "unknown", warning=f"GET /models failed ({type(error).__name__}: {error}); "
                                                "the model was not checked")


# ---------------------------------------------------------------- the cache on disk (I/O: run off the loop)
def default_models_cache_path() -> Path:
    """Where the ``/models`` listing is cached: beside the price cache (``.../together-wrapper/models.json``)."""
    return default_price_cache_path().with_name("models.json")


def save_listing(path: Path, base_url: str, listing: Sequence[Listing], fetched_at: datetime) -> None:
    """Write the listing with its date and source atomically; a cache that cannot be written is only skipped."""
    doc: dict[str, Any] = {
        "fetched_at": fetched_at.isoformat(), "base_url": base_url,
        "models": [{"id": e.id, "type": e.type, "context_length": e.context_length,
                    "input": None if e.input_price is None else format(e.input_price, "f"),
                    "output": None if e.output_price is None else format(e.output_price, "f")} for e in listing],
    }
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def load_listing(path: Path, base_url: str, *, now: datetime,
                 max_age: timedelta = LISTING_MAX_AGE) -> tuple[tuple[Listing, ...], datetime] | None:
    """The cached listing and its date, if it came from ``base_url`` and is younger than ``max_age``; else None
    (also for a missing or corrupt file: it is only a cache)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("base_url") != base_url:
            return None
        fetched = datetime.fromisoformat(doc["fetched_at"])
        fetched = fetched if fetched.tzinfo else fetched.replace(tzinfo=UTC)
        if not timedelta(0) <= now - fetched <= max_age:
            return None
        listing = tuple(Listing(id=str(m["id"]), type=m.get("type"), input_price=_price(m.get("input")),
                                output_price=_price(m.get("output")), context_length=m.get("context_length"))
                        for m in doc["models"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return listing, fetched
