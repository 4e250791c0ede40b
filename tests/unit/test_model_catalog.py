"""The model check's pure parts: ranking served chat models, the typed answer, and the listing cache on disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from wrapper import ModelInfo
from wrapper._pipeline._catalog import (
    Listing,
    check_model,
    closest,
    listing_from,
    load_listing,
    save_listing,
)

NOW = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)


def _chat(model_id: str, price: str) -> Listing:
    return Listing(model_id, "chat", Decimal(price), Decimal(price), 32768)


LISTING = (
    _chat("Qwen/Qwen2.5-7B-Instruct-Turbo", "0.30"),
    _chat("Qwen/Qwen2.5-72B-Instruct-Turbo", "1.20"),
    _chat("Qwen/Qwen3-32B-Instruct", "0.90"),
    _chat("meta-llama/Llama-3.3-70B-Instruct-Turbo", "0.88"),
    _chat("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "0.18"),
    _chat("mistralai/Mixtral-8x7B-Instruct-v0.1", "0.60"),
    Listing("BAAI/bge-large-en-v1.5", "embedding", Decimal("0.02"), Decimal(0), 512),
)


def test_closest_prefers_family_then_size_then_version() -> None:
    """For a gone Qwen2.5 32B: Qwen of the same size first, then the nearer Qwen size, other families after."""
    ids = [a.id for a in closest("Qwen/Qwen2.5-32B-Instruct-Turbo", LISTING, limit=4)]
    assert ["Qwen/Qwen3-32B-Instruct", "Qwen/Qwen2.5-72B-Instruct-Turbo", "Qwen/Qwen2.5-7B-Instruct-Turbo",
            "mistralai/Mixtral-8x7B-Instruct-v0.1"] == ids


def test_closest_reads_llama_family_and_ignores_non_chat_models() -> None:
    """Meta-Llama ids are the llama family; an embedding model is never offered for chat."""
    ids = [a.id for a in closest("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", LISTING, limit=10)]
    assert ids[:2] == ["meta-llama/Llama-3.3-70B-Instruct-Turbo", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"]
    assert "BAAI/bge-large-en-v1.5" not in ids


def test_check_says_served_not_served_and_not_chat() -> None:
    """Listed chat model: served with its price; missing: not served with alternatives; embedding: a warning."""
    served = check_model("qwen/qwen2.5-7b-instruct-turbo", LISTING, NOW)
    assert (True, True, Decimal("0.30"), ()) == (served.served, served.chat, served.input_price,
                                                 served.alternatives)
    gone = check_model("Qwen/Qwen2.5-32B-Instruct-Turbo", LISTING, NOW)
    assert (False, "not_served", NOW) == (gone.served, gone.status, gone.fetched_at)
    assert "Qwen/Qwen3-32B-Instruct ($0.90 in / $0.90 out per 1M tokens)" in gone.describe()
    embed = check_model("BAAI/bge-large-en-v1.5", LISTING, NOW)
    assert (True, False) == (embed.served, embed.chat) and embed.warning and "not a chat model" in embed.warning


def test_listing_from_generated_models_treats_zero_prices_as_unlisted() -> None:
    """Prices come from the generated models exactly; a 0/0 price (not billed per token) is no price."""
    models = [ModelInfo.from_dict({"id": "a/A-7B", "type": "chat", "pricing": {"input": 0.3, "output": 0.6}}),
              ModelInfo.from_dict({"id": "b/B", "type": "chat", "pricing": {"input": 0, "output": 0}})]
    a, b = listing_from(models)
    assert (Decimal("0.3"), Decimal("0.6"), None, None) == (a.input_price, a.output_price, b.input_price,
                                                           b.output_price)


def test_listing_cache_round_trips_for_its_base_url_while_fresh(tmp_path: Path) -> None:
    """The cache is read back with its date for the same base URL while fresh; another URL or an old file: None."""
    path = tmp_path / "models.json"
    save_listing(path, "https://api.together.xyz/v1", LISTING, NOW)
    loaded = load_listing(path, "https://api.together.xyz/v1", now=NOW + timedelta(minutes=5))
    assert loaded is not None and (LISTING, NOW) == loaded
    assert load_listing(path, "http://127.0.0.1:9/v1", now=NOW) is None
    assert load_listing(path, "https://api.together.xyz/v1", now=NOW + timedelta(hours=2)) is None
    path.write_text("{not json")
    assert load_listing(path, "https://api.together.xyz/v1", now=NOW) is None
