"""Unit tests of the fake server's pure parts: fault parsing, the fault picker and the window counter."""

from __future__ import annotations

import pytest

from wrapper.testing._fake_faults import Fault, FaultPicker, WindowCounter


def test_parse_reads_kind_and_status() -> None:
    """``"kind:status"`` sets the status, and a timed kind gets the given delay."""
    assert Fault.parse("server_error:503").effective_status == 503
    assert Fault.parse("latency", delay=0.7).delay == 0.7
    assert Fault.parse("server_error", delay=0.7).delay == 0.0


def test_parse_rejects_unknown_kinds() -> None:
    """An unknown fault name is a ValueError, not a silent no-op."""
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault.parse("teapot")


def test_default_statuses() -> None:
    """Status kinds default to Together's statuses; answer kinds default to 200."""
    assert [
        Fault(k).effective_status for k in ("rate_limit", "rate_limit_no_hints", "server_error", "html_error", "ok")
    ] == [429, 429, 500, 503, 200]


def test_picker_serves_script_before_random_draws() -> None:
    """Scripted faults come out first, in order; then the picker falls back to draws (here: never a fault)."""
    picker = FaultPicker({}, seed=1)
    picker.script([Fault("server_error"), Fault("ok"), Fault("rate_limit")])
    assert [picker.next().kind for _ in range(4)] == ["server_error", "ok", "rate_limit", "ok"]


def test_picker_same_seed_same_sequence() -> None:
    """Two pickers with one seed draw the same faults; another seed draws a different sequence."""
    rates = {Fault("server_error"): 0.3, Fault("rate_limit"): 0.2}
    a, b, c = FaultPicker(rates, seed=5), FaultPicker(rates, seed=5), FaultPicker(rates, seed=6)
    seq_a, seq_b, seq_c = ([p.next().kind for _ in range(200)] for p in (a, b, c))
    assert seq_a == seq_b
    assert seq_a != seq_c
    assert {"ok", "server_error", "rate_limit"} == set(seq_a)


def test_picker_rejects_rates_above_one() -> None:
    """Probabilities that sum above 1 are refused."""
    with pytest.raises(ValueError, match="sum to <= 1"):
        FaultPicker({Fault("server_error"): 0.7, Fault("rate_limit"): 0.4}, seed=0)


def test_max_in_window_counts_sliding_windows() -> None:
    """The densest window (0.1, 1.1] holds 4 arrivals; a tiny window holds the one duplicate pair."""
    counter = WindowCounter(None)
    for t in (0.0, 0.1, 0.5, 1.0, 1.05, 1.1, 3.0, 3.0):
        counter.arrive(t)
    assert counter.max_in_window(1.0) == 4
    assert counter.max_in_window(1e-6) == 2
    assert counter.max_in_window(10.0) == 8


def test_max_in_window_of_nothing_is_zero() -> None:
    """No arrivals means an empty window."""
    assert WindowCounter(None).max_in_window(1.0) == 0


def test_admit_enforces_n_per_window() -> None:
    """With (2, 1.0): two admitted, the third refused with the wait until a slot frees, admitted again later."""
    counter = WindowCounter((2, 1.0))
    assert counter.admit(0.0)[:2] == (True, 1)
    assert counter.admit(0.25)[:2] == (True, 0)
    admitted, remaining, reset = counter.admit(0.5)
    assert (admitted, remaining) == (False, 0)
    assert reset == pytest.approx(0.5)
    assert counter.admit(1.0)[0]


def test_window_counter_rejects_bad_limits() -> None:
    """A limit needs N >= 1 and W > 0."""
    with pytest.raises(ValueError, match="limit"):
        WindowCounter((0, 1.0))
