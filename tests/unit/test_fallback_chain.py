"""The fallback chain's pure decisions: order, remembered unserved models, breaker patience, dearer switches."""

from __future__ import annotations

from decimal import Decimal

from wrapper import CircuitOpenError, ModelNotAvailableError, ServerError
from wrapper._pipeline._fallback import ChainState, dearer, model_chain, parse_model_list

A, B, C = "Qwen/Qwen2.5-32B-Instruct-Turbo", "Qwen/Qwen2.5-72B-Instruct-Turbo", "Qwen/Qwen2.5-7B-Instruct-Turbo"


def _gone() -> ModelNotAvailableError:
    return ModelNotAvailableError("gone", status_code=400, code="model_not_available")


def _closed(model: str) -> bool:
    return False


def _open(model: str) -> bool:
    return True


def test_parse_model_list_splits_commas_and_drops_blanks() -> None:
    """The setting's text is a comma-separated list; blanks and none give an empty list."""
    assert (A, B) == parse_model_list(f" {A}, ,{B},")
    assert () == parse_model_list("none")
    assert () == parse_model_list("  ")


def test_chain_keeps_order_and_drops_repeats_in_any_case() -> None:
    """The primary comes first, then each fallback once (ids differing only in case are one model)."""
    assert (A, B, C) == model_chain(A, [B, A.lower(), C, B, ""])


def test_pick_skips_models_found_unserved_but_never_the_last() -> None:
    """A model remembered as unserved is skipped; when every model is, the last is still tried."""
    state = ChainState()
    assert state.mark_unserved(A) and not state.mark_unserved(A.upper())
    assert (1, [(A, "model_not_available")]) == state.pick((A, B), 0, now=0.0, patience=5.0, is_open=_closed)
    state.mark_unserved(B)
    assert 1 == state.pick((A, B), 0, now=0.0, patience=5.0, is_open=_closed)[0]
    assert (None, []) == state.pick((A, B), 2, now=0.0, patience=5.0, is_open=_closed)
    assert (A, B) == state.unserved


def test_model_not_available_moves_on_and_is_remembered() -> None:
    """model_not_available always moves the chain on and marks the model unserved."""
    state = ChainState()
    assert "model_not_available" == state.reason_to_leave(A, _gone(), now=0.0, patience=60.0)
    assert state.is_unserved(A.lower())


def test_open_breaker_moves_on_only_after_the_patience() -> None:
    """An open breaker is waited for until it has stayed open ``patience`` seconds, then the chain moves on."""
    state = ChainState()
    refusal = CircuitOpenError(A, 10.0)
    assert state.reason_to_leave(A, refusal, now=0.0, patience=60.0) is None  # never seen opening: closed
    state.breaker_moved(A, "open", 100.0)
    assert state.reason_to_leave(A, refusal, now=159.0, patience=60.0) is None
    assert state.pick((A, B), 0, now=159.0, patience=60.0, is_open=_open)[0] == 0
    state.breaker_moved(A, "half_open", 130.0)  # a failed probe keeps the open period's start
    assert "breaker_open" == state.reason_to_leave(A, refusal, now=160.0, patience=60.0)
    assert (1, [(A, "breaker_open")]) == state.pick((A, B), 0, now=160.0, patience=60.0, is_open=_open)
    assert 0 == state.pick((A, B), 0, now=160.0, patience=60.0, is_open=_closed)[0]  # half-open: may probe
    state.breaker_moved(A, "closed", 170.0)
    assert state.open_for(A, 171.0) is None


def test_failure_that_opened_the_breaker_counts_as_open() -> None:
    """A 5xx that opened the breaker (circuit_open_for set) moves on past the patience; a plain 5xx does not."""
    state = ChainState()
    state.breaker_moved(A, "open", 0.0)
    error = ServerError("down", status_code=503)
    assert state.reason_to_leave(A, error, now=0.0, patience=0.0) is None
    error.circuit_open_for = 30.0  # type: ignore[attr-defined]
    assert "breaker_open" == state.reason_to_leave(A, error, now=0.0, patience=0.0)


def test_breaker_skips_are_announced_once_per_open_period() -> None:
    """The first skip of an open period is reported; the next ones are not, until the breaker closes."""
    state = ChainState()
    assert state.first_announcement(A) and not state.first_announcement(A)
    state.breaker_moved(A, "closed", 1.0)
    assert state.first_announcement(A)


def test_dearer_compares_worst_cases() -> None:
    """A switch needs a new confirmation only when it costs more than what was confirmed (or nothing was)."""
    assert dearer(None, Decimal("0.01"))
    assert dearer(Decimal("0.01"), Decimal("0.02"))
    assert not dearer(Decimal("0.02"), Decimal("0.02"))
    assert not dearer(Decimal("0.02"), None)
