"""Batch API prices (issue 14): the discounted default, explicit overrides, and real-time vs batch spend apart."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from wrapper import ConfigError
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import DEFAULT_BATCH_DISCOUNT, Price, PriceTable, batch_model
from wrapper._ledger._store import MemoryStore
from wrapper._observe._reports import totals

MODEL = "Qwen/Qwen2.5-7B-Instruct-Turbo"
TABLE = PriceTable().with_overrides({MODEL: Price(Decimal("0.30"), Decimal("0.60"))})


def test_batch_price_defaults_to_half_the_real_time_price() -> None:
    """Without an explicit batch price, batch:<model> costs the real-time price times 0.5."""
    assert Decimal("0.5") == DEFAULT_BATCH_DISCOUNT
    assert Price(Decimal("0.150"), Decimal("0.300")) == TABLE.get(batch_model(MODEL))
    assert TABLE.get("batch:unknown/model") is None


def test_batch_model_is_idempotent_and_case_insensitive() -> None:
    """batch_model never doubles the prefix, and lookups ignore letter case."""
    assert "batch:" + MODEL == batch_model(batch_model(MODEL))
    assert TABLE.get("BATCH:" + MODEL.lower()) == TABLE.get(batch_model(MODEL))


def test_an_explicit_batch_price_wins_over_the_discount() -> None:
    """A model Together does not discount gets its own batch entry (here the full price)."""
    table = TABLE.with_overrides({batch_model(MODEL): {"input": "0.30", "output": "0.60"}})
    assert Price(Decimal("0.30"), Decimal("0.60")) == table.get(batch_model(MODEL))


def test_the_prices_file_sets_the_discount_and_round_trips() -> None:
    """A top-level "batch_discount" in the prices file replaces 0.5, survives layering and to_json/from_json."""
    loaded = PriceTable.from_json(json.dumps({"batch_discount": "0.25", "prices": {MODEL: {"input": 1, "output": 2}}}))
    layered = PriceTable.builtin().with_overrides(loaded)
    assert Price(Decimal("0.25"), Decimal("0.50")) == layered.get(batch_model(MODEL))
    assert layered.get(batch_model(MODEL)) == PriceTable.from_json(layered.to_json()).get(batch_model(MODEL))


def test_a_discount_above_one_is_refused() -> None:
    """batch_discount is a factor: 2 is a mistake, refused with the file named."""
    with pytest.raises(ConfigError, match="batch_discount"):
        PriceTable.from_json('{"batch_discount": 2, "prices": {}}', source="prices file x.json")


def test_ledger_rows_and_reports_show_batch_spend_apart() -> None:
    """A batch-priced settle commits usage x batch price exactly; totals by mode split realtime and batch."""
    ledger = Ledger(store=MemoryStore(), prices=TABLE, limit=Decimal(10), run_id="r", clock=lambda: 1.0)
    messages = [{"role": "user", "content": "hi"}]
    for model, usage in ((MODEL, (100, 2000)), (batch_model(MODEL), (100, 2000))):
        r = ledger.reserve(ledger.estimate(model, messages, 2000))
        ledger.settle_ok(r, usage_prompt=usage[0], usage_completion=usage[1], request_id=None, latency_s=None,
                         attempt=1)
    rows = ledger.rows()
    by_mode = {t.key: t.cost for t in totals(rows, "mode")}
    assert {"realtime": Decimal("0.00123"), "batch": Decimal("0.000615")} == by_mode
    ledger.close()
