"""Unit tests of the per-model circuit breaker (wrapper._policies._breaker), all on an injected fake clock."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from wrapper._error_map import error_from_response
from wrapper._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    LocalRateLimitTimeout,
    ModelNotAvailableError,
    RequestValidationError,
    ServerError,
    StreamError,
)
from wrapper._policies._breaker import ModelBreaker, is_counted
from wrapper._policies._breaker_board import BreakerBoard
from wrapper._settings import Settings

Transition = tuple[str, str, str, int]


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
def transitions() -> list[Transition]:
    """Collects every on_transition call."""
    return []


@pytest.fixture
def board(clock: FakeClock, transitions: list[Transition]) -> BreakerBoard:
    """A board with the default thresholds (5 failures / 60 s, 30 s recovery) on the fake clock."""
    return BreakerBoard(clock=clock, on_transition=lambda *t: transitions.append(t))


def server_error(status: int = 503) -> ServerError:
    """A counted failure, as the core maps it."""
    error = error_from_response(status, {}, b"")
    assert isinstance(error, ServerError)
    return error


def fail(breaker: ModelBreaker, times: int, clock: FakeClock | None = None, step: float = 0.0) -> None:
    """Record ``times`` counted failures, ``step`` seconds apart."""
    for _ in range(times):
        breaker.record_failure(server_error())
        if clock is not None:
            clock.advance(step)


def open_breaker(board: BreakerBoard, model: str = "m") -> ModelBreaker:
    """A breaker that has just opened."""
    breaker = board.get(model)
    fail(breaker, 5)
    assert breaker.state == "open"
    return breaker


# -- closed -> open ---------------------------------------------------------------------------------


def test_failures_outside_the_window_do_not_add_up(board: BreakerBoard, clock: FakeClock) -> None:
    """4 failures, 61 s of quiet, then 1 more: still closed, and only 1 failure counts."""
    breaker = board.get("m")
    fail(breaker, 4, clock, step=1.0)
    clock.advance(61.0)
    fail(breaker, 1)
    assert breaker.state == "closed"
    assert breaker.failure_count == 1


def test_five_failures_within_the_window_open(board: BreakerBoard, clock: FakeClock,
                                              transitions: list[Transition]) -> None:
    """5 counted failures within 60 s open the breaker, reported once with the count."""
    breaker = board.get("m")
    fail(breaker, 4, clock, step=14.0)  # at 0, 14, 28, 42
    assert breaker.state == "closed"
    fail(breaker, 1)  # at 56
    assert breaker.state == "open"
    assert breaker.opened
    assert transitions == [("m", "closed", "open", 5)]


def test_not_counted_outcomes_neither_count_nor_reset(board: BreakerBoard) -> None:
    """4xx, 429, validation and cancellation between failures leave the count alone."""
    breaker = board.get("m")
    fail(breaker, 4)
    for other in (error_from_response(400, {}, b""), error_from_response(429, {}, b""),
                  error_from_response(401, {}, b""), RequestValidationError("x", "y"), asyncio.CancelledError()):
        breaker.guard()
        breaker.record_failure(other)
    for _ in range(20):
        breaker.release()
    assert breaker.state == "closed"
    assert breaker.failure_count == 4
    fail(breaker, 1)
    assert breaker.state == "open"


def test_successes_do_not_reset_the_window(board: BreakerBoard) -> None:
    """Failures count within the window even with successes between them: 5 in 60 s open the breaker."""
    breaker = board.get("m")
    for _ in range(4):
        fail(breaker, 1)
        breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.failure_count == 4
    fail(breaker, 1)
    assert breaker.state == "open"


# -- open ------------------------------------------------------------------------------------------


def test_guard_raises_with_seconds_until_probe(board: BreakerBoard, clock: FakeClock) -> None:
    """While open, guard fails fast with the model and the seconds left before a probe."""
    breaker = open_breaker(board)
    with pytest.raises(CircuitOpenError) as first:
        breaker.guard()
    assert first.value.name == "m"
    assert first.value.retry_in == 30.0
    clock.advance(12.5)
    with pytest.raises(CircuitOpenError) as later:
        breaker.guard()
    assert later.value.retry_in == 17.5
    assert breaker.open_remaining == 17.5


def test_outcomes_reported_while_open_change_nothing(board: BreakerBoard, clock: FakeClock) -> None:
    """A late success or failure from a request begun before opening neither closes nor extends it."""
    breaker = open_breaker(board)
    clock.advance(10.0)
    breaker.record_success()
    fail(breaker, 3)
    assert breaker.state == "open"
    assert breaker.open_remaining == 20.0


# -- half-open -------------------------------------------------------------------------------------


def test_half_open_lets_exactly_one_probe_through(board: BreakerBoard, clock: FakeClock) -> None:
    """After recovery the first guard is the probe; a second one is refused until the probe settles."""
    breaker = open_breaker(board)
    clock.advance(30.0)
    assert breaker.state == "half_open"
    breaker.guard()
    with pytest.raises(CircuitOpenError) as refused:
        breaker.guard()
    assert refused.value.retry_in == 0.0


def test_probe_success_closes(board: BreakerBoard, clock: FakeClock, transitions: list[Transition]) -> None:
    """A successful probe closes the breaker and forgets the failures."""
    breaker = open_breaker(board)
    clock.advance(30.0)
    breaker.guard()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.failure_count == 0
    breaker.guard()
    breaker.guard()
    assert transitions[-1] == ("m", "half_open", "closed", 0)


def test_probe_failure_reopens_for_a_new_recovery_period(board: BreakerBoard, clock: FakeClock) -> None:
    """A failed probe reopens the breaker with the full recovery time ahead."""
    breaker = open_breaker(board)
    clock.advance(45.0)
    breaker.guard()
    clock.advance(2.0)
    breaker.record_failure(APITimeoutError("read", sent=True))
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as refused:
        breaker.guard()
    assert refused.value.retry_in == 30.0
    assert isinstance(breaker.last_failure, APITimeoutError)


def test_uncounted_probe_outcome_frees_the_slot_only(board: BreakerBoard, clock: FakeClock) -> None:
    """A probe ending in a 429 or a cancel stays half-open and lets the next caller probe."""
    breaker = open_breaker(board)
    clock.advance(30.0)
    breaker.guard()
    breaker.record_failure(error_from_response(429, {}, b""))
    assert breaker.state == "half_open"
    breaker.guard()
    breaker.release()
    assert breaker.state == "half_open"
    breaker.guard()


def test_lost_probe_is_replaced_after_another_recovery_period(board: BreakerBoard, clock: FakeClock) -> None:
    """A probe that never reports back cannot lock the model out for good."""
    breaker = open_breaker(board)
    clock.advance(30.0)
    breaker.guard()
    clock.advance(29.0)
    with pytest.raises(CircuitOpenError):
        breaker.guard()
    clock.advance(1.0)
    breaker.guard()


# -- transitions, threads, board ---------------------------------------------------------------------


def test_each_transition_is_reported_exactly_once(board: BreakerBoard, clock: FakeClock,
                                                  transitions: list[Transition]) -> None:
    """A full cycle reports every transition once, however often the state is read."""
    breaker = open_breaker(board)
    clock.advance(30.0)
    for _ in range(3):
        assert breaker.state == "half_open"
    breaker.guard()
    breaker.record_failure(server_error(504))
    clock.advance(30.0)
    _ = breaker.state, breaker.state, board.states()
    breaker.guard()
    breaker.record_success()
    assert breaker.state == "closed"
    assert transitions == [
        ("m", "closed", "open", 5),
        ("m", "open", "half_open", 5),
        ("m", "half_open", "open", 6),  # the 5 at t=0 plus the probe at t=30, all within 60 s
        ("m", "open", "half_open", 1),  # at t=60 the first 5 have left the window
        ("m", "half_open", "closed", 0),
    ]


def test_many_threads_in_half_open_get_exactly_one_probe(board: BreakerBoard, clock: FakeClock) -> None:
    """16 threads hammering guard at once in half-open: exactly one gets through."""
    breaker = open_breaker(board)
    clock.advance(30.0)
    start = threading.Barrier(16)
    passed: list[int] = []
    refused: list[int] = []

    def hammer(n: int) -> None:
        start.wait()
        for _ in range(200):
            try:
                breaker.guard()
            except CircuitOpenError:
                refused.append(n)
            else:
                passed.append(n)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 1
    assert len(refused) == 16 * 200 - 1


def test_concurrent_failures_open_once(board: BreakerBoard, transitions: list[Transition]) -> None:
    """Many threads recording failures at once open the breaker exactly once."""
    breaker = board.get("m")
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(100):
            breaker.record_failure(server_error())
            _ = breaker.state

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert transitions == [("m", "closed", "open", 5)]


def test_models_are_isolated(board: BreakerBoard) -> None:
    """Opening one model's breaker leaves the others closed."""
    open_breaker(board, "a")
    board.get("b").guard()
    assert board.states() == {"a": "open", "b": "closed"}


def test_model_ids_are_case_insensitive(board: BreakerBoard) -> None:
    """Model ids differing only in case share one breaker, named as first spelled."""
    first = board.get("Qwen/Qwen2.5-7B-Instruct-Turbo")
    assert board.get("qwen/qwen2.5-7b-instruct-turbo") is first
    assert list(board.states()) == ["Qwen/Qwen2.5-7B-Instruct-Turbo"]


def test_with_statement_guards_and_records(board: BreakerBoard, clock: FakeClock) -> None:
    """`with breaker:` counts a 5xx raised inside, refuses when open and closes on a probe's success."""
    breaker = board.get("m")
    for _ in range(5):
        with pytest.raises(ServerError), breaker:
            raise server_error(500)
    with pytest.raises(CircuitOpenError), breaker:
        pass
    clock.advance(30.0)
    with breaker:
        pass
    assert breaker.closed


def test_raising_hook_does_not_break_the_breaker(clock: FakeClock) -> None:
    """An on_transition hook that raises is ignored; the breaker still opens."""

    def bad_hook(model: str, old: str, new: str, failures: int) -> None:
        raise RuntimeError("dashboard down")

    breaker = BreakerBoard(clock=clock, on_transition=bad_hook, failures=1).get("m")
    breaker.record_failure(server_error())
    assert breaker.state == "open"


def test_reset_closes_and_reports(board: BreakerBoard, transitions: list[Transition]) -> None:
    """reset() closes an open breaker and reports the transition."""
    breaker = open_breaker(board)
    breaker.reset()
    assert breaker.state == "closed"
    breaker.guard()
    assert transitions[-1] == ("m", "open", "closed", 0)


def test_from_settings_uses_breaker_settings(clock: FakeClock) -> None:
    """BreakerBoard.from_settings takes failures, window and recovery from Settings."""
    s = Settings(breaker_failures=2, breaker_window=10.0, breaker_recovery=5.0)
    breaker = BreakerBoard.from_settings(s, clock=clock).get("m")
    fail(breaker, 2)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.guard()
    assert refused.value.retry_in == 5.0


def test_zero_threshold_is_rejected() -> None:
    """failures=0 raises instead of silently becoming 5 as in circuitbreaker."""
    with pytest.raises(ConfigError):
        ModelBreaker("m", failures=0)


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (error_from_response(500, {}, b""), True),
        (error_from_response(502, {}, b""), True),
        (error_from_response(503, {}, b"<html>busy</html>"), True),
        (error_from_response(504, {}, b""), True),
        (APITimeoutError("read", sent=True), True),
        (APIConnectionError("refused"), True),
        (error_from_response(400, {}, b""), False),
        (error_from_response(401, {}, b""), False),
        (error_from_response(404, {}, b""), False),
        (error_from_response(408, {}, b""), False),
        (error_from_response(422, {}, b""), False),
        (error_from_response(429, {}, b""), False),
        (ModelNotAvailableError("gone", status_code=400), False),
        (APIResponseValidationError("cut", status_code=200, body="{"), False),
        (StreamError("ended early"), False),
        (RequestValidationError("x", "y"), False),
        (BudgetExceededError(estimate=Decimal(1), spent=Decimal(0), reserved=Decimal(0), limit=Decimal(0)), False),
        (CircuitOpenError("m", 1.0), False),
        (LocalRateLimitTimeout(1.0, "rpm"), False),
        (asyncio.CancelledError(), False),
        (KeyboardInterrupt(), False),
        (ValueError("x"), False),
    ],
)
def test_is_counted_table(error: BaseException, counted: bool) -> None:
    """Only 5xx, timeouts and connection errors count toward opening a breaker."""
    assert is_counted(error) is counted
