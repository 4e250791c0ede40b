"""Unit tests of the retry policy: schedule, jitter, server hints, the retryable table, deadline."""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal

import attrs
import pytest

from wrapper._error_map import error_from_response
from wrapper._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    LocalRateLimitTimeout,
    ModelNotAvailableError,
    RequestValidationError,
    StreamError,
    TogetherError,
)
from wrapper._policies._retry import RetryPolicy, describe, parse_retry_after, should_retry_header
from wrapper._policies._retryable import RETRYABLE_STATUSES, is_retryable
from wrapper._settings import Settings

NOW_WALL = 1_700_000_000.0  # a fixed wall clock (2023-11-14T22:13:20Z)


def status_error(status: int, *, retry_after: float | None = None, type_: str | None = None) -> APIStatusError:
    """Build the error the core would raise for ``status`` (through the real mapping function)."""
    body = json.dumps({"error": {"message": "boom", "type": type_}}).encode()
    return error_from_response(status, {}, body, retry_after=retry_after)


def waits_for(policy: RetryPolicy, errors: list[BaseException], seed: int = 1) -> list[float | None]:
    """Feed ``errors`` as consecutive failures at clock 0 and collect the policy's answers."""
    state = policy.start(0.0, random.Random(seed))
    return [state.next_wait(error, 0.0) for error in errors]


# -- the schedule -----------------------------------------------------------------------------------


def test_schedule_is_exponential_within_jitter_bounds() -> None:
    """With the defaults the three waits are about 2, 4 and 8 s, each within +/-25 %."""
    waits = waits_for(RetryPolicy(), [status_error(503)] * 3, seed=42)
    for wait, nominal in zip(waits, (2.0, 4.0, 8.0), strict=True):
        assert wait is not None
        assert nominal * 0.75 <= wait <= nominal * 1.25


def test_schedule_without_jitter_is_exact() -> None:
    """jitter=0 gives exactly base, 2*base, 4*base."""
    assert waits_for(RetryPolicy(jitter=0, base=0.5), [status_error(500)] * 3) == [0.5, 1.0, 2.0]


def test_same_seed_gives_same_waits() -> None:
    """The schedule is deterministic for a seeded Random."""
    errors: list[BaseException] = [status_error(502)] * 3
    assert waits_for(RetryPolicy(), errors, seed=7) == waits_for(RetryPolicy(), errors, seed=7)


def test_concurrent_clients_with_different_seeds_get_different_waits() -> None:
    """Two clients failing at the same moment do not retry in lockstep."""
    errors: list[BaseException] = [status_error(503)] * 3
    assert waits_for(RetryPolicy(), errors, seed=1) != waits_for(RetryPolicy(), errors, seed=2)


def test_wait_is_capped_at_max_wait() -> None:
    """Computed waits never pass max_wait, jittered or not."""
    policy = RetryPolicy(max_retries=8, base=2.0, max_wait=5.0, deadline=None)
    assert waits_for(attrs.evolve(policy, jitter=0), [status_error(503)] * 5) == [2.0, 4.0, 5.0, 5.0, 5.0]
    for seed in range(50):
        waits = waits_for(policy, [status_error(503)] * 8, seed=seed)
        assert all(w is not None and 0 < w <= 5.0 for w in waits)


def test_gives_up_after_max_retries() -> None:
    """max_retries=3 allows three waits; the fourth failure gives up and says why."""
    state = RetryPolicy().start(0.0, random.Random(0))
    answers = [state.next_wait(status_error(503), 0.0) for _ in range(4)]
    assert [a is not None for a in answers] == [True, True, True, False]
    assert state.attempts == 4
    assert state.gave_up is not None and "max_retries=3" in state.gave_up


def test_zero_retries_gives_up_at_once() -> None:
    """max_retries=0 means one attempt only."""
    assert waits_for(RetryPolicy(max_retries=0), [status_error(503)]) == [None]


def test_schedule_step_follows_retry_number_after_a_hint() -> None:
    """A hinted first retry still moves the schedule on: the second computed wait is the 4 s step."""
    waits = waits_for(RetryPolicy(jitter=0), [status_error(429, retry_after=1.0), status_error(503)])
    assert waits == [1.0, 4.0]


# -- server hints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"retry-after-ms": "1500"}, 503, 1.5),
        ({"Retry-After": "7"}, 503, 7.0),
        ({"retry-after": "2.5"}, 429, 2.5),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, 503, 30.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 -0000"}, 503, 30.0),
        ({"x-ratelimit-reset": "3"}, 429, 3.0),
        ({"x-ratelimit-reset": str(NOW_WALL + 12)}, 429, 12.0),
        ({"retry-after-ms": "250", "retry-after": "9", "x-ratelimit-reset": "4"}, 429, 0.25),
        ({"retry-after": "9", "x-ratelimit-reset": "4"}, 429, 9.0),
        ({"retry-after-ms": "soon", "retry-after": "6"}, 503, 6.0),
        ({"retry-after": "-5"}, 503, 0.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:00:00 GMT"}, 503, 0.0),
    ],
    ids=["ms", "seconds", "fraction", "http-date", "http-date-0000", "reset", "reset-epoch", "ms-first",
         "after-before-reset", "garbage-then-next", "negative", "date-in-past"],
)
def test_parse_retry_after_reads_each_header(headers: dict[str, str], status: int, expected: float) -> None:
    """Each hint header parses to seconds, in the documented order, negatives clamped to 0."""
    assert parse_retry_after(headers, status, NOW_WALL) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 503),
        ({"retry-after": "whenever"}, 503),
        ({"retry-after": "nan"}, 503),
        ({"retry-after-ms": "inf"}, 503),
        ({"x-ratelimit-reset": "3"}, 503),
        ({"x-ratelimit-reset": "later"}, 429),
    ],
    ids=["none", "garbage", "nan", "inf", "reset-not-429", "reset-garbage"],
)
def test_parse_retry_after_without_usable_hint(headers: dict[str, str], status: int) -> None:
    """Missing or unparseable hints give None; x-ratelimit-reset counts only on a 429."""
    assert parse_retry_after(headers, status, NOW_WALL) is None


def test_hint_is_used_and_jitter_never_shortens_it() -> None:
    """A retry_after hint is waited at least in full, for every seed, and grows by at most the jitter."""
    for seed in range(200):
        (wait,) = waits_for(RetryPolicy(), [status_error(429, retry_after=10.0)], seed=seed)
        assert wait is not None
        assert 10.0 <= wait <= 12.5


def test_hint_near_the_cap_is_not_pushed_over_it() -> None:
    """Jitter on a hint stops at max_wait but never goes below the hint itself."""
    for seed in range(50):
        (wait,) = waits_for(RetryPolicy(), [status_error(503, retry_after=59.0)], seed=seed)
        assert wait is not None and 59.0 <= wait <= 60.0
    assert waits_for(RetryPolicy(), [status_error(503, retry_after=60.0)]) == [60.0]


def test_zero_hint_retries_immediately() -> None:
    """retry-after: 0 means retry now."""
    assert waits_for(RetryPolicy(), [status_error(503, retry_after=0.0)]) == [0.0]


def test_hint_above_max_wait_gives_up_at_once() -> None:
    """A server asking for more than max_wait ends the call on the first failure."""
    state = RetryPolicy().start(0.0, random.Random(0))
    assert state.next_wait(status_error(429, retry_after=61.0), 0.0) is None
    assert state.attempts == 1
    assert state.gave_up is not None and "max_wait" in state.gave_up


# -- x-should-retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"x-should-retry": "true"}, True), ({"X-Should-Retry": " FALSE "}, False),
     ({"x-should-retry": "maybe"}, None), ({}, None)],
)
def test_should_retry_header(headers: dict[str, str], expected: bool | None) -> None:
    """x-should-retry reads as True/False case-insensitively, anything else as no opinion."""
    assert should_retry_header(headers) is expected


def test_should_retry_true_forces_retry_of_a_status_error() -> None:
    """x-should-retry: true makes an otherwise final 400 retryable."""
    error = status_error(400)
    assert not is_retryable(error, True)
    error.should_retry = True  # set by the core from the header
    assert is_retryable(error, True)
    assert waits_for(RetryPolicy(jitter=0), [error]) == [2.0]


def test_should_retry_false_forbids_retry() -> None:
    """x-should-retry: false makes a 503 final."""
    error = status_error(503)
    error.should_retry = False
    assert not is_retryable(error, True)
    assert waits_for(RetryPolicy(), [error]) == [None]


def test_should_retry_true_never_revives_local_errors_or_model_not_available() -> None:
    """The server's hint cannot force a retry of our own errors or of model_not_available."""
    local = CircuitOpenError("m", 3.0)
    local.should_retry = True  # type: ignore[attr-defined]
    gone = ModelNotAvailableError("gone", status_code=400)
    gone.should_retry = True
    assert not is_retryable(local, True)
    assert not is_retryable(gone, True)


# -- the retryable table ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 405, 408, 409, 413, 422, 429,
                                    500, 501, 502, 503, 504, 505, 520, 529])
def test_retryable_statuses(status: int) -> None:
    """Exactly 408, 429, 500, 502, 503 and 504 are retried, whatever retry_read_timeouts says."""
    expected = status in {408, 429, 500, 502, 503, 504}
    assert {408, 429, 500, 502, 503, 504} == RETRYABLE_STATUSES
    assert is_retryable(status_error(status), True) is expected
    assert is_retryable(status_error(status), False) is expected


def _errors() -> list[tuple[str, BaseException, bool, bool]]:
    """(id, error, retried when retry_read_timeouts=True, retried when False)."""
    return [
        ("connect-error", APIConnectionError("refused", sent=False), True, True),
        ("connect-timeout", APITimeoutError("connect", sent=False), True, True),
        ("read-timeout", APITimeoutError("read", sent=True), True, False),
        ("reset-after-send", APIConnectionError("reset", sent=True), True, False),
        ("truncated-2xx", APIResponseValidationError("cut", status_code=200, body="{"), True, False),
        ("model-not-available", ModelNotAvailableError("gone", status_code=400), False, False),
        ("stream-error", StreamError("ended early"), False, False),
        ("request-validation", RequestValidationError("temperature", "too hot"), False, False),
        ("budget", BudgetExceededError(estimate=Decimal(1), spent=Decimal(0), reserved=Decimal(0),
                                       limit=Decimal("0.5")), False, False),
        ("circuit-open", CircuitOpenError("m", 5.0), False, False),
        ("local-rate-limit", LocalRateLimitTimeout(3.0, "rpm"), False, False),
        ("config", ConfigError("bad"), False, False),
        ("together-error", TogetherError("base"), False, False),
        ("cancelled", asyncio.CancelledError(), False, False),
        ("keyboard-interrupt", KeyboardInterrupt(), False, False),
        ("builtin-timeout", TimeoutError(), False, False),
        ("value-error", ValueError("x"), False, False),
    ]


@pytest.mark.parametrize(("error", "when_on", "when_off"), [e[1:] for e in _errors()], ids=[e[0] for e in _errors()])
def test_retryable_error_classes(error: BaseException, when_on: bool, when_off: bool) -> None:
    """Each error class is retried (or not) as documented, with the read-timeout switch on and off."""
    assert is_retryable(error, True) is when_on
    assert is_retryable(error, False) is when_off
    assert (waits_for(RetryPolicy(retry_read_timeouts=False), [error]) != [None]) is when_off


# -- deadline, reasons, settings --------------------------------------------------------------------


def test_deadline_stops_a_wait_that_would_pass_it() -> None:
    """A wait ending after start + deadline gives up; one ending before it is allowed."""
    state = RetryPolicy(jitter=0, deadline=10.0).start(100.0, random.Random(0))
    assert state.next_wait(status_error(503), 100.0) == 2.0
    assert state.next_wait(status_error(503), 105.0) == 4.0  # ends at 109 <= 110
    assert state.remaining(105.0) == 5.0
    assert state.next_wait(status_error(503), 109.0) is None  # 8 s from 109 ends at 117 > 110
    assert state.gave_up is not None and "deadline" in state.gave_up


def test_no_deadline_means_no_time_limit() -> None:
    """deadline=None never gives up on time."""
    state = RetryPolicy(jitter=0, deadline=None).start(0.0, random.Random(0))
    assert state.next_wait(status_error(503), 1e9) == 2.0
    assert state.remaining(1e9) is None


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (status_error(503), "503"),
        (status_error(429, type_="dynamic_request_limited"), "429 dynamic_request_limited"),
        (APIConnectionError("refused"), "connect error"),
        (APIConnectionError("reset", sent=True), "connection lost"),
        (APITimeoutError("read", sent=True), "read timeout"),
        (APITimeoutError("connect"), "connect timeout"),
        (APIResponseValidationError("cut", status_code=200, body=""), "invalid response"),
        (KeyboardInterrupt(), "KeyboardInterrupt"),
    ],
)
def test_last_reason_labels_the_failure(error: BaseException, reason: str) -> None:
    """next_wait records a short reason for logs and events."""
    state = RetryPolicy().start(0.0, random.Random(0))
    state.next_wait(error, 0.0)
    assert describe(error) == reason
    assert state.last_reason == reason


def test_from_settings_maps_every_retry_setting() -> None:
    """RetryPolicy.from_settings copies max_retries, base, max_wait, deadline and the read-timeout switch."""
    s = Settings(max_retries=5, retry_base=0.5, retry_max_wait=9.0, retry_deadline=None, retry_read_timeouts=False)
    assert RetryPolicy.from_settings(s) == RetryPolicy(
        max_retries=5, base=0.5, max_wait=9.0, deadline=None, retry_read_timeouts=False
    )


@pytest.mark.parametrize(
    "bad",
    [{"max_retries": -1}, {"max_retries": 1.5}, {"base": 0}, {"max_wait": -1.0}, {"deadline": 0},
     {"jitter": 1.0}, {"jitter": -0.1}, {"base": float("nan")}],
)
def test_policy_rejects_out_of_range_values(bad: dict[str, float]) -> None:
    """Out-of-range policy values raise ConfigError when the policy is built."""
    with pytest.raises(ConfigError):
        RetryPolicy(**bad)  # type: ignore[arg-type]

