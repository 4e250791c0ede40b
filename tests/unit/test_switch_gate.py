"""The batch's confirmation of a fallback met mid-run: planned models pass, a model no dearer than the plan passes,
a dearer one above the threshold is asked once (or refused without a terminal), --yes passes everything."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from wrapper.cli._preflight import SwitchGate

COSTS = {None: Decimal("1.00"), "cheap": Decimal("0.50"), "dear": Decimal("4.00")}


def _gate(*, yes: bool = False, interactive: bool = False, threshold: str = "2.00") -> SwitchGate:
    gate = SwitchGate(Console(file=io.StringIO()), threshold=Decimal(threshold), yes=yes, interactive=interactive)
    gate.rest_cost = lambda model: COSTS[model]
    gate.approve(["Planned"])
    return gate


def test_planned_and_cheaper_models_pass_without_asking() -> None:
    """Models confirmed with the plan, and a fallback costing no more than the plan, need no question."""
    gate = _gate()
    assert gate(Decimal(1), "planned") and gate(Decimal(1), "cheap")
    assert gate.refused is None


def test_dearer_model_without_a_terminal_is_refused_and_remembered() -> None:
    """Above the threshold with no terminal: refused, with the reason kept for the summary; asked only once."""
    gate = _gate()
    assert not gate(Decimal(1), "dear")
    assert gate.refused is not None and "pass --yes" in gate.refused
    gate.rest_cost = lambda model: pytest.fail("decided again")
    assert not gate(Decimal(1), "dear")


def test_dearer_model_is_asked_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a terminal the person decides; --yes or a threshold above the new cost pass at once."""
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert _gate(interactive=True)(Decimal(1), "dear")
    assert _gate(yes=True)(Decimal(1), "dear")
    assert _gate(threshold="5.00")(Decimal(1), "dear")
