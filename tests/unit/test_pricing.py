"""Unit tests of the price table: built-in prices, case-insensitive ids, unknown models, overrides, files, refresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from wrapper._errors import ConfigError
from wrapper._ledger._pricing import BUILTIN_PRICES, Price, PriceTable, to_decimal
from wrapper._settings import Settings

QWEN = "Qwen/Qwen2.5-32B-Instruct-Turbo"


def test_builtin_table_has_the_documented_prices() -> None:
    """The five built-in models carry the issue's USD-per-1M prices, as exact Decimals."""
    table = PriceTable.builtin()
    expected = {
        QWEN: "0.80",
        "Qwen/Qwen2.5-7B-Instruct-Turbo": "0.30",
        "Qwen/Qwen2.5-72B-Instruct-Turbo": "1.20",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo": "0.88",
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": "0.18",
    }
    assert {m: Price(Decimal(p), Decimal(p)) for m, p in expected.items()} == {m: table.get(m) for m in expected}
    assert sorted(BUILTIN_PRICES) == table.models()


def test_model_ids_match_case_insensitively() -> None:
    """A lower-cased id (as /models sometimes returns) finds the same price."""
    table = PriceTable.builtin()
    assert table.get(QWEN) == table.get(QWEN.lower()) == table.get(QWEN.upper())


def test_cost_is_exact_decimal_arithmetic() -> None:
    """1,234 prompt + 567 completion tokens at 0.80/1M cost exactly 0.00144080 USD."""
    assert Decimal("0.0014408") == PriceTable.builtin().cost(QWEN, 1234, 567)


def test_unknown_model_costs_none_not_zero() -> None:
    """A model missing from the table has an unknown (None) cost, never 0."""
    table = PriceTable.builtin()
    assert table.get("acme/unknown-model") is None
    assert table.cost("acme/unknown-model", 1000, 1000) is None


def test_dict_overrides_win_and_keep_the_original_spelling() -> None:
    """Overrides replace a price (matched case-insensitively) and add new models; the table itself is unchanged."""
    base = PriceTable.builtin()
    table = base.with_overrides({QWEN.lower(): {"input": "1.5", "output": 2}, "acme/new": (0.1, "0.2")})
    assert Price(Decimal("1.5"), Decimal(2)) == table.get(QWEN)
    assert Price(Decimal("0.1"), Decimal("0.2")) == table.get("ACME/NEW")
    assert QWEN in table.models()
    assert Price(Decimal("0.80"), Decimal("0.80")) == base.get(QWEN)


@pytest.mark.parametrize("bad", [{"input": -1, "output": 1}, {"input": "x", "output": 1}, {"input": 1}, "0.5"])
def test_malformed_overrides_raise_config_error(bad: object) -> None:
    """Negative, non-numeric or incomplete prices are refused with ConfigError."""
    with pytest.raises(ConfigError):
        PriceTable.builtin().with_overrides({"m": bad})


def test_floats_convert_without_binary_drift() -> None:
    """0.1 given as a float becomes Decimal('0.1'), not 0.1000000000000000055..."""
    assert Decimal("0.1") == to_decimal(0.1)


def test_prices_file_overrides_the_builtin_table(tmp_path: Path) -> None:
    """TOGETHER_PRICES_FILE prices (read exactly, JSON numbers included) win over the built-in ones."""
    path = tmp_path / "prices.json"
    path.write_text('{"prices": {"qwen/qwen2.5-32b-instruct-turbo": {"input": 0.95, "output": "1.05"}}}')
    table = PriceTable.from_settings(Settings(prices_file=str(path)))
    assert Price(Decimal("0.95"), Decimal("1.05")) == table.get(QWEN)
    assert Price(Decimal("0.30"), Decimal("0.30")) == table.get("Qwen/Qwen2.5-7B-Instruct-Turbo")


def test_bare_mapping_file_is_accepted(tmp_path: Path) -> None:
    """A file holding just ``{model: {input, output}}`` works too."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"acme/m": {"input": "3", "output": "4"}}))
    assert Price(Decimal(3), Decimal(4)) == PriceTable.load(path).get("acme/m")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"prices": {"m": {"input": "a", "output": 1}}}'])
def test_bad_prices_file_names_the_file(tmp_path: Path, text: str) -> None:
    """A malformed prices file raises ConfigError that names the file."""
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.json"):
        PriceTable.from_settings(Settings(prices_file=str(path)))


def test_missing_prices_file_raises_config_error(tmp_path: Path) -> None:
    """A prices file that does not exist is a ConfigError naming TOGETHER_PRICES_FILE."""
    with pytest.raises(ConfigError, match="TOGETHER_PRICES_FILE"):
        PriceTable.from_settings(Settings(prices_file=str(tmp_path / "nope.json")))


def test_refresh_from_models_updates_prices_and_date() -> None:
    """updated() applies /models entries (lower-cased ids, float prices), skips 0/0 and junk, and stamps the date."""
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    table = PriceTable.builtin().updated(
        [(QWEN.lower(), 0.9, 0.9), ("acme/dedicated-only", 0, 0), ("acme/odd", "n/a", 1), ("acme/new", 0.5, 1.5)],
        when,
    )
    assert Price(Decimal("0.9"), Decimal("0.9")) == table.get(QWEN)
    assert Price(Decimal("0.5"), Decimal("1.5")) == table.get("acme/new")
    assert table.get("acme/dedicated-only") is None
    assert table.get("acme/odd") is None
    assert when == table.fetched_at


def test_cache_round_trips_prices_and_fetch_date(tmp_path: Path) -> None:
    """save() then load() gives back the same prices and fetched_at; the cache then layers under the file."""
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    fresh = PriceTable.builtin().updated([("acme/new", "0.123456789", "2")], when)
    cache = tmp_path / "cache" / "prices.json"
    fresh.save(cache)
    loaded = PriceTable.load(cache)
    assert (fresh.get("acme/new"), when) == (loaded.get("acme/new"), loaded.fetched_at)
    built = PriceTable.from_settings(Settings(), cache=cache)
    assert (Price(Decimal("0.123456789"), Decimal(2)), when) == (built.get("acme/new"), built.fetched_at)


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    """A corrupt /models cache does not break the client: the built-in prices stand."""
    cache = tmp_path / "prices.json"
    cache.write_text("{broken")
    assert PriceTable.builtin() == PriceTable.from_settings(Settings(), cache=cache)
