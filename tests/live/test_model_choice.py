"""How the live tier picks its model when TOGETHER_LIVE_MODEL is unset; runs offline (no key needed)."""

from __future__ import annotations

from typing import Any

from tests.live.conftest import cheapest_chat_model
from wrapper import ModelInfo


def _model(id_: str, type_: str, pricing: dict[str, Any] | None) -> ModelInfo:
    data: dict[str, Any] = {"id": id_, "type": type_}
    if pricing is not None:
        data["pricing"] = pricing
    return ModelInfo.from_dict(data)


def test_cheapest_priced_chat_model_is_chosen() -> None:
    """Only chat models with a positive price count; the lowest input + output wins, ties broken by id."""
    models = [
        _model("big/chat", "chat", {"input": 0.9, "output": 0.9}),
        _model("free/chat", "chat", {"input": 0, "output": 0}),
        _model("unpriced/chat", "chat", None),
        _model("cheap/embed", "embedding", {"input": 0.01, "output": 0}),
        _model("b/small", "chat", {"input": 0.1, "output": 0.1}),
        _model("a/small", "chat", {"input": 0.05, "output": 0.15}),
    ]
    assert "a/small" == cheapest_chat_model(models)
    assert cheapest_chat_model(models[2:4]) is None
