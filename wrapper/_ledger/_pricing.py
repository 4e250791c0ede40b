"""Token prices: the built-in table, overrides from a dict or a JSON file, and refreshes from ``GET /v1/models``.

Prices are USD per 1M tokens, kept as :class:`~decimal.Decimal` so sums never drift. Model ids are matched
case-insensitively (Together sometimes returns them lower-cased). A :class:`PriceTable` is immutable: every
change returns a new table, so one table can be shared by threads and clients without locks.

Layering, lowest first (see :meth:`PriceTable.from_settings`): the built-in table, the cached ``/models``
prices, then ``TOGETHER_PRICES_FILE``. The JSON file format (also the cache format) is::

    {"fetched_at": "2026-11-27T21:00:00+00:00",          # optional
     "prices": {"Qwen/Qwen2.5-32B-Instruct-Turbo": {"input": "0.80", "output": "0.80"}}}

A bare ``{"model": {"input": ..., "output": ...}}`` mapping is accepted too. Numbers may be JSON numbers or
strings; both are read exactly (no float on the way).

Batch API prices (issue 14). A Batch API call is priced as the model ``batch:<model id>``
(:func:`batch_model`), and that is also the ``model`` its ledger rows carry, so reports show real-time and batch
spend apart. Its price is, in order: an explicit entry ``"batch:<model id>": {"input": ..., "output": ...}`` in
the table or the prices file (Together discounts selected models only: give the real-time price there for a
model it does not discount), else the real-time price times the table's batch discount -- the file's top-level
``"batch_discount"`` (e.g. ``"0.5"``), else :data:`DEFAULT_BATCH_DISCOUNT` (0.5, Together's "up to 50%").
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from .._errors import ConfigError
from .._settings import Settings

__all__ = ["BATCH_PREFIX", "BUILTIN_PRICES", "DEFAULT_BATCH_DISCOUNT", "ONE_MILLION", "Price", "PriceTable",
           "batch_model", "default_price_cache_path", "to_decimal"]

ONE_MILLION = Decimal(1_000_000)
BATCH_PREFIX = "batch:"
"""The model-name prefix of Batch API prices and ledger rows."""
DEFAULT_BATCH_DISCOUNT = Decimal("0.5")
"""Batch price = real-time price x this, unless the table names a batch price or another discount."""


def batch_model(model: str) -> str:
    """The name a Batch API call of ``model`` is priced and recorded under: ``batch:<model>``."""
    return model if model.lower().startswith(BATCH_PREFIX) else BATCH_PREFIX + model


def to_decimal(value: object) -> Decimal:
    """Convert a price or amount to Decimal exactly (floats go through ``repr`` so 0.1 stays 0.1).

    Raises:
        ValueError: the value is not a finite, non-negative number.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, (int, str)):
            result = Decimal(str(value).strip())
        elif isinstance(value, float):
            result = Decimal(repr(value))
        else:
            raise ValueError(f"expected a number, got {value!r}")
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not result.is_finite() or result < 0:
        raise ValueError(f"expected a finite number >= 0, got {value!r}")
    return result


@attrs.frozen
class Price:
    """What one model costs, in USD per 1M tokens."""

    input: Decimal = attrs.field(converter=to_decimal)
    output: Decimal = attrs.field(converter=to_decimal)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        """Return the exact USD cost of ``prompt_tokens`` in and ``completion_tokens`` out."""
        return (self.input * prompt_tokens + self.output * completion_tokens) / ONE_MILLION


BUILTIN_PRICES: Mapping[str, Price] = {
    "Qwen/Qwen2.5-32B-Instruct-Turbo": Price(Decimal("0.80"), Decimal("0.80")),
    "Qwen/Qwen2.5-7B-Instruct-Turbo": Price(Decimal("0.30"), Decimal("0.30")),
    "Qwen/Qwen2.5-72B-Instruct-Turbo": Price(Decimal("1.20"), Decimal("1.20")),
    "meta-llama/Llama-3.3-70B-Instruct-Turbo": Price(Decimal("0.88"), Decimal("0.88")),
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": Price(Decimal("0.18"), Decimal("0.18")),
}
"""Together's serverless prices (USD per 1M tokens) when this table was written; refresh from ``/models``."""


def default_price_cache_path() -> Path:
    """Where refreshed ``/models`` prices are cached: ``$XDG_CACHE_HOME/together-wrapper/prices.json``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "together-wrapper" / "prices.json"


def _parse_time(raw: object) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"fetched_at must be an ISO-8601 string, got {raw!r}")
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _price_of(model: str, raw: object) -> Price:
    if isinstance(raw, Price):
        return raw
    if isinstance(raw, Mapping) and "input" in raw and "output" in raw:
        return Price(raw["input"], raw["output"])
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        return Price(raw[0], raw[1])
    raise ValueError(f"price of {model!r} must be {{'input': x, 'output': y}}, got {raw!r}")


@attrs.frozen
class PriceTable:
    """An immutable, case-insensitive map from model id to :class:`Price`.

    Attributes:
        fetched_at: when the newest ``/models`` prices in this table were fetched (None: never refreshed).
    """

    _prices: Mapping[str, tuple[str, Price]] = attrs.field(factory=dict, alias="prices")
    fetched_at: datetime | None = None
    batch_discount: Decimal | None = None  # None: DEFAULT_BATCH_DISCOUNT (see the module docstring)

    @classmethod
    def builtin(cls) -> PriceTable:
        """Return the built-in table (:data:`BUILTIN_PRICES`)."""
        return cls().with_overrides(BUILTIN_PRICES)

    @classmethod
    def from_settings(cls, settings: Settings, *, cache: str | os.PathLike[str] | None = None) -> PriceTable:
        """Build the table a client uses: built-in, then the ``/models`` cache (if the file exists), then the file.

        Args:
            settings: ``prices_file`` (``TOGETHER_PRICES_FILE``) is read when set.
            cache: the price cache written by :meth:`save`; pass :func:`default_price_cache_path` to use it.

        Raises:
            ConfigError: the prices file is missing or malformed.
        """
        table = cls.builtin()
        if cache is not None and Path(cache).is_file():
            with contextlib.suppress(ConfigError):  # a corrupt cache is only a cache: the built-in prices stand
                table = table.merged(cls.load(cache))
        if settings.prices_file:
            table = table.with_overrides(cls.load(settings.prices_file))
        return table

    def get(self, model: str) -> Price | None:
        """Return the price of ``model`` (any letter case), or None when it is unknown."""
        entry = self._prices.get(model.lower())
        if entry is not None:
            return entry[1]
        if model.lower().startswith(BATCH_PREFIX):  # no explicit batch price: the discounted real-time price
            base = self.get(model[len(BATCH_PREFIX):])
            if base is not None:
                rate = DEFAULT_BATCH_DISCOUNT if self.batch_discount is None else self.batch_discount
                return Price(base.input * rate, base.output * rate)
        return None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
        """Return the exact USD cost of a call, or None when the model's price is unknown (unknown, not zero)."""
        price = self.get(model)
        return None if price is None else price.cost(prompt_tokens, completion_tokens)

    def models(self) -> list[str]:
        """Return the known model ids, as they were first spelled, sorted."""
        return sorted(name for name, _ in self._prices.values())

    def with_overrides(self, overrides: Mapping[str, object] | PriceTable) -> PriceTable:
        """Return a copy where ``overrides`` win over this table's prices.

        Args:
            overrides: ``{model: Price | {"input": x, "output": y} | (input, output)}`` or another table.

        Raises:
            ConfigError: a price is malformed or negative.
        """
        if isinstance(overrides, PriceTable):
            items: Iterable[tuple[str, object]] = [(name, p) for name, p in overrides._prices.values()]
        else:
            items = overrides.items()
        prices = dict(self._prices)
        for model, raw in items:
            try:
                price = _price_of(model, raw)
            except ValueError as exc:
                raise ConfigError(f"bad price override: {exc}") from None
            known = prices.get(model.lower())
            prices[model.lower()] = (known[0] if known else model, price)
        discount = overrides.batch_discount if isinstance(overrides, PriceTable) else None
        return attrs.evolve(self, prices=prices, batch_discount=discount if discount is not None
                            else self.batch_discount)

    def merged(self, other: PriceTable) -> PriceTable:
        """Return ``other``'s prices over this table's, keeping the newer ``fetched_at``."""
        dates = [d for d in (self.fetched_at, other.fetched_at) if d is not None]
        return attrs.evolve(self.with_overrides(other), fetched_at=max(dates) if dates else None)

    def updated(self, entries: Iterable[tuple[str, object, object]], fetched_at: datetime) -> PriceTable:
        """Return a copy refreshed from ``GET /v1/models``: ``(model id, input, output)`` per model.

        Entries priced 0/0 are skipped: Together lists models it does not bill per token with zero prices, and
        counting those as free would under-count. Put a truly free model in the prices file instead.
        Unparseable entries are skipped too (a refresh never fails because of one odd model).
        """
        fresh: dict[str, Price] = {}
        for model, input_price, output_price in entries:
            try:
                price = Price(input_price, output_price)
            except (ValueError, TypeError):
                continue
            if price.input or price.output:
                fresh[model] = price
        stamp = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
        return attrs.evolve(self.with_overrides(fresh), fetched_at=stamp)

    def to_json(self) -> str:
        """Return the table in the prices-file format (exact decimal strings, the fetch date if any)."""
        doc: dict[str, Any] = {
            "fetched_at": self.fetched_at.isoformat() if self.fetched_at else None,
            "prices": {
                name: {"input": format(p.input, "f"), "output": format(p.output, "f")}
                for name, p in sorted(self._prices.values())
            },
        }
        if self.batch_discount is not None:
            doc["batch_discount"] = format(self.batch_discount, "f")
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "prices JSON") -> PriceTable:
        """Parse the prices-file format (or a bare ``{model: {input, output}}`` mapping).

        Raises:
            ConfigError: the text is not valid JSON in that shape; the message names ``source``.
        """
        try:
            doc = json.loads(text, parse_float=Decimal)
            if not isinstance(doc, dict):
                raise ValueError("expected a JSON object")
            top = ("fetched_at", "batch_discount")
            raw = doc["prices"] if "prices" in doc else {k: v for k, v in doc.items() if k not in top}
            if not isinstance(raw, dict):
                raise ValueError("'prices' must be an object")
            discount = to_decimal(doc["batch_discount"]) if doc.get("batch_discount") is not None else None
            if discount is not None and discount > 1:
                raise ValueError(f"batch_discount is a factor in [0, 1], got {discount}")
            table = attrs.evolve(cls().with_overrides(raw), batch_discount=discount)
            return table.evolve_fetched(_parse_time(doc.get("fetched_at")))
        except (ValueError, ConfigError, AttributeError) as exc:
            raise ConfigError(f"{source} is not a valid prices file: {exc}") from None

    def evolve_fetched(self, fetched_at: datetime | None) -> PriceTable:
        """Return a copy with ``fetched_at`` replaced."""
        return attrs.evolve(self, fetched_at=fetched_at)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PriceTable:
        """Read a prices file or cache (see the module docstring for the format).

        Raises:
            ConfigError: the file cannot be read or parsed; the message names it and the variable to fix.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read prices file {str(path)!r} (TOGETHER_PRICES_FILE): {exc}") from None
        return cls.from_json(text, source=f"prices file {str(path)!r}")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the table (with its fetch date) atomically, creating the folder; used as the ``/models`` cache."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, target)
