"""Unit tests of the limiter: buckets, waiting in line, holds, adaptive slow-down, stats; no real sleeping."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest

from wrapper._errors import ConfigError, LocalRateLimitTimeout, RequestValidationError, TogetherError
from wrapper._observe._events import Event, EventHook, QueueDepthHigh
from wrapper._policies._limiter import RateLimiter, _SQLiteWriteLock
from wrapper._settings import Settings


class FakeTime:
    """A clock that only moves when someone sleeps on it; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make(ft: FakeTime, *, rpm: int | None = None, tpm: int | None = None, max_wait: float = 120.0,
         on_event: EventHook | None = None, queue_alert_depth: int = 50) -> RateLimiter:
    return RateLimiter(rpm=rpm, tpm=tpm, max_wait=max_wait, clock=ft.clock, sleep=ft.sleep, on_event=on_event,
                       queue_alert_depth=queue_alert_depth)


async def settle() -> None:
    """Let every ready task run until it blocks (zero-delay yields, not real waiting)."""
    for _ in range(50):
        await asyncio.sleep(0)


def test_per_second_spread_refuses_third_request_in_one_second() -> None:
    """120 RPM is 2 per second, not a 120-request burst: the third immediate try is refused until 1 s passes."""
    ft = FakeTime()
    lim = make(ft, rpm=120)
    assert [lim.try_acquire() for _ in range(3)] == [True, True, False]
    ft.now += 1.01
    assert lim.try_acquire() is True


def test_blocking_acquire_waits_for_the_next_second() -> None:
    """A blocking acquire over the per-second rate sleeps (injected) about one second and reports it."""
    ft = FakeTime()
    lim = make(ft, rpm=120)
    assert lim.acquire() + lim.acquire() == 0.0
    waited = lim.acquire()
    assert len(ft.sleeps) == 1
    assert 1.0 < ft.sleeps[0] < 1.03
    assert waited == pytest.approx(ft.sleeps[0])


def test_per_minute_cap_holds_below_sixty_rpm() -> None:
    """3 RPM allows one request per second and three per minute; the fourth waits until the minute has passed."""
    ft = FakeTime()
    lim = make(ft, rpm=3)
    for _ in range(3):
        lim.acquire()
    start = ft.now
    lim.acquire()
    assert ft.now - start > 57.0  # the first request was at start - 2 s: the window frees at start + 58 s


def test_tokens_bucket_is_weighted() -> None:
    """The tokens bucket counts estimated tokens, not requests: 60 + 40 fit in 100 TPM, a further 1 does not."""
    ft = FakeTime()
    lim = make(ft, tpm=100)
    assert lim.try_acquire(60) is True
    assert lim.try_acquire(50) is False
    assert lim.try_acquire(40) is True
    assert lim.try_acquire(1) is False
    waited = lim.acquire(10)
    assert 59.0 < waited < 61.0


def test_token_units_are_paid_ahead_and_the_rest_is_credit() -> None:
    """At 100,000 TPM tokens are counted in units of 10; a 3-token call pays one unit, and the next calls spend
    what it left. So 33,333 calls of 3 tokens fit in the minute (99,999 tokens), as they do at Together, and the
    next one waits: the bucket never holds fewer tokens than were admitted, and rounding does not cap the rate at
    10,000 calls a minute."""
    ft = FakeTime()
    lim = make(ft, tpm=100_000)
    admitted = sum(lim.try_acquire(3) for _ in range(33_333))
    assert 33_333 == admitted
    assert lim.try_acquire(3) is False
    ft.now += 60.01
    assert lim.try_acquire(3) is True


def test_weight_above_whole_budget_fails_at_once() -> None:
    """A request estimated above the whole per-minute token budget raises immediately instead of waiting forever."""
    ft = FakeTime()
    lim = make(ft, rpm=100, tpm=1000)
    with pytest.raises(LocalRateLimitTimeout, match="can never fit") as info:
        lim.acquire(1001)
    assert info.value.waited == 0.0
    assert ft.sleeps == []
    assert lim.try_acquire(1000) is True  # the whole budget itself still fits


def test_negative_tokens_are_rejected() -> None:
    """A negative token estimate is a programming error, reported as a validation error."""
    with pytest.raises(RequestValidationError):
        make(FakeTime(), rpm=10).acquire(-1)


@pytest.mark.parametrize("kind", [dict, httpx.Headers])
def test_zero_remaining_holds_new_acquisitions_until_reset(kind: Callable[[dict[str, str]], Mapping[str, str]]) -> None:
    """x-ratelimit-remaining: 0 with a 2 s reset makes the next acquire sleep exactly until the reset (plain
    headers, or httpx's as the pipeline passes them)."""
    ft = FakeTime()
    lim = make(ft, rpm=600)
    lim.observe(200, kind({"Content-Type": "application/json", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset": "2"}))
    assert ft.now + 2.0 == lim.stats().held_until
    assert lim.acquire() == 2.0
    assert ft.sleeps == [2.0]
    assert lim.stats().held_until is None


def test_zero_token_remaining_without_reset_holds_one_second() -> None:
    """x-tokenlimit-remaining: 0 with no reset header holds for Together's one-second window."""
    ft = FakeTime()
    lim = make(ft, tpm=10_000)
    lim.observe(200, {"x-tokenlimit-remaining": "0"})
    assert lim.acquire(5) == 1.0


@pytest.mark.parametrize("kind", [dict, httpx.Headers])
def test_remaining_above_zero_or_garbage_does_not_hold(kind: Callable[[dict[str, str]], Mapping[str, str]]) -> None:
    """Positive or unparsable remaining counts never hold acquisitions."""
    ft = FakeTime()
    lim = make(ft, rpm=600)
    lim.observe(200, kind({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "5"}))
    lim.observe(200, kind({"x-ratelimit-remaining": "soon", "x-tokenlimit-remaining": "nan"}))
    assert lim.stats().held_until is None
    assert lim.acquire() == 0.0


def test_hold_longer_than_max_wait_times_out_without_sleeping() -> None:
    """A hold that cannot end within max_wait raises LocalRateLimitTimeout at once, saying why."""
    ft = FakeTime()
    lim = make(ft, rpm=600, max_wait=2.0)
    lim.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "5"})
    with pytest.raises(LocalRateLimitTimeout, match="held") as info:
        lim.acquire()
    assert ft.sleeps == []
    assert "next slot in 5.0s" in info.value.limit


def test_timeout_names_the_limit_that_blocked() -> None:
    """Over a 1 RPM limit with 5 s max wait, the second call fails fast and names the request limit."""
    ft = FakeTime()
    lim = make(ft, rpm=1, max_wait=5.0)
    lim.acquire()
    with pytest.raises(LocalRateLimitTimeout) as info:
        lim.acquire()
    assert "1 requests/min" in info.value.limit
    assert info.value.waited == 0.0


def test_dynamic_429_halves_the_rate_and_recovers_to_the_ceiling() -> None:
    """A dynamic 429 halves the effective rate, which then climbs back in steps and never exceeds the ceiling."""
    ft = FakeTime()
    lim = make(ft, rpm=60)
    lim.observe(429, {}, "dynamic_request_limited")
    assert lim.stats().effective_rpm == 30.0
    seen: list[float] = []
    for _ in range(60):
        ft.now += 1.0
        rate = lim.stats().effective_rpm
        assert rate is not None
        seen.append(rate)
    assert seen == sorted(seen)
    assert all(30.0 <= r <= 60.0 for r in seen)
    assert seen[-1] == 60.0
    assert seen[8] == 30.0  # still slow 9 s later


def test_slow_down_paces_acquisitions() -> None:
    """After a dynamic 429 at 60 RPM, consecutive acquisitions are spaced 2 s apart (30 RPM)."""
    ft = FakeTime()
    lim = make(ft, rpm=60)
    lim.acquire()
    lim.observe(429, {}, "dynamic_token_limited")
    lim.acquire()
    lim.acquire()
    assert ft.sleeps == pytest.approx([2.0, 2.0])


def test_repeated_429s_do_not_compound_and_other_429s_only_count() -> None:
    """More dynamic 429s keep the rate at half and restart recovery; a non-dynamic 429 is counted, not obeyed."""
    ft = FakeTime()
    lim = make(ft, rpm=100)
    for _ in range(5):
        lim.observe(429, {}, "dynamic_request_limited")
        ft.now += 2.0
    lim.observe(429, {}, "credit_limit")
    stats = lim.stats()
    assert stats.effective_rpm == 50.0
    assert stats.received_429 == 6
    ft.now += 12.0  # 14 s after the last dynamic 429: one recovery step
    assert lim.stats().effective_rpm == 60.0
    lim.observe(429, {}, "dynamic_token_limited")
    assert lim.stats().effective_rpm == 50.0


def test_stats_count_waits_and_wait_time() -> None:
    """stats() counts acquisitions that waited and the total seconds they waited."""
    ft = FakeTime()
    lim = make(ft, rpm=60)
    for _ in range(3):
        lim.acquire()
    stats = lim.stats()
    assert stats.waits == 2
    assert stats.total_wait_s == pytest.approx(sum(ft.sleeps))
    assert stats.max_queue_depth == 1
    assert stats.queue_depth == 0


async def test_async_callers_wait_in_line_in_order_and_alert_once() -> None:
    """Async callers queue FIFO, the depth alert fires once per crossing, and stats see the depth."""
    ft = FakeTime()
    gate = asyncio.Event()
    events: list[Event] = []

    async def gated_sleep(seconds: float) -> None:
        await gate.wait()
        ft.sleep(seconds)

    lim = make(ft, rpm=60, on_event=events.append, queue_alert_depth=2)
    await lim.acquire_async()
    done: list[int] = []

    async def caller(i: int) -> None:
        await lim.acquire_async(asleep=gated_sleep)
        done.append(i)

    tasks = [asyncio.create_task(caller(i)) for i in range(4)]
    await settle()
    assert lim.stats().queue_depth == 4
    assert [QueueDepthHigh(at=events[0].at, depth=2, threshold=2)] == events
    gate.set()
    await asyncio.gather(*tasks)
    assert done == [0, 1, 2, 3]
    assert lim.stats().max_queue_depth == 4
    gate.clear()
    tasks = [asyncio.create_task(caller(i)) for i in range(2)]
    await settle()
    gate.set()
    await asyncio.gather(*tasks)
    assert len(events) == 2  # the line emptied, so a new crossing alerts again


async def test_async_acquire_spreads_per_second() -> None:
    """The async path enforces the same per-second spread using the injected async sleep."""
    ft = FakeTime()
    lim = make(ft, rpm=120)
    waits = [await lim.acquire_async(asleep=ft.asleep) for _ in range(3)]
    assert waits[0] + waits[1] == 0.0
    assert 1.0 < waits[2] < 1.03


def test_failing_event_hook_does_not_break_acquire() -> None:
    """An on_event hook that raises is logged and the acquisition still succeeds."""
    ft = FakeTime()

    def bad_hook(event: Event) -> None:
        raise RuntimeError("boom")

    lim = make(ft, rpm=60, on_event=bad_hook, queue_alert_depth=1)
    lim.acquire()
    assert 1.0 < lim.acquire() < 1.03


def test_threads_never_exceed_the_limit() -> None:
    """Eight threads racing non-blocking tries at one instant get exactly the per-second limit, no more."""
    ft = FakeTime()
    lim = make(ft, rpm=6000)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        got = [lim.try_acquire() for _ in range(50)]
        with lock:
            results.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 100


def test_close_leaves_no_thread_and_refuses_acquire(tmp_path: Path) -> None:
    """No pyrate leak thread outlives close(); close is idempotent, closes the database and refuses new work."""
    before = {t.ident for t in threading.enumerate()}
    lim = RateLimiter(rpm=60, tpm=1000, max_wait=5.0, backend=f"sqlite://{tmp_path / 'rl.db'}")
    assert lim.try_acquire(5) is True
    lim.close()
    lim.close()
    assert before == {t.ident for t in threading.enumerate()}
    assert not any("Leaker" in t.name for t in threading.enumerate())
    with pytest.raises(TogetherError, match="closed"):
        lim.acquire()


def test_sqlite_backend_shares_one_budget_between_instances(tmp_path: Path) -> None:
    """Two limiters on one SQLite file (as two processes would be) draw from one request and token budget."""
    url = f"sqlite://{tmp_path / 'shared.db'}"
    a = RateLimiter(rpm=1, tpm=100, max_wait=5.0, backend=url, key="acct.1")
    b = RateLimiter(rpm=1, tpm=100, max_wait=5.0, backend=url, key="acct.1")
    other = RateLimiter(rpm=1, tpm=100, max_wait=5.0, backend=url, key="acct-2")
    try:
        assert a.try_acquire(60) is True
        assert b.try_acquire(0) is False  # the one request of this minute is taken
        assert other.try_acquire(0) is True  # another key is another budget
        with sqlite3.connect(tmp_path / "shared.db") as conn:
            rows = conn.execute("SELECT COUNT(*) FROM acct_1_tokens").fetchone()[0]
        assert rows == 60
    finally:
        for lim in (a, b, other):
            lim.close()


def test_sqlite_tokens_are_shared(tmp_path: Path) -> None:
    """Tokens taken through one instance are missing from the other's budget."""
    url = f"sqlite://{tmp_path / 'tokens.db'}"
    a = RateLimiter(rpm=None, tpm=100, max_wait=5.0, backend=url)
    b = RateLimiter(rpm=None, tpm=100, max_wait=5.0, backend=url)
    try:
        assert a.try_acquire(60) is True
        assert b.try_acquire(60) is False
        assert b.try_acquire(40) is True
        assert a.try_acquire(1) is False
    finally:
        a.close()
        b.close()


def test_sqlite_write_lock_excludes_other_processes(tmp_path: Path) -> None:
    """While the bucket's lock is held, another connection (as another process) cannot start a write."""
    db = tmp_path / "locked.db"
    mine = sqlite3.connect(db, isolation_level="DEFERRED", check_same_thread=False)
    other = sqlite3.connect(db, timeout=0)
    lock = _SQLiteWriteLock(mine)
    try:
        with lock, lock, pytest.raises(sqlite3.OperationalError, match="locked"):  # re-entrant, as pyrate nests
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
    finally:
        mine.close()
        other.close()


@pytest.mark.parametrize("backend", ["postgres://x/y", "memcached://h", "sqlite:///no/such/dir/x.db"])
def test_bad_backend_is_a_config_error(backend: str) -> None:
    """An unknown scheme or an unopenable database fails when the limiter is built, as a ConfigError."""
    with pytest.raises(ConfigError):
        RateLimiter(rpm=10, tpm=None, max_wait=1.0, backend=backend)


def test_config_error_hides_backend_credentials() -> None:
    """A backend URL's password never appears in the error message."""
    with pytest.raises(ConfigError) as info:
        RateLimiter(rpm=10, tpm=None, max_wait=1.0, backend="memcached://user:hunter2@h:1/0")
    assert "hunter2" not in str(info.value)


def test_from_settings_reads_rate_limit_fields() -> None:
    """from_settings wires rpm, tpm, max wait and alert depth from Settings."""
    ft = FakeTime()
    s = Settings(rate_limit_rpm=120, rate_limit_tpm=50, rate_limit_max_wait=3.0, queue_alert_depth=7)
    lim = RateLimiter.from_settings(s, clock=ft.clock, sleep=ft.sleep)
    assert [lim.try_acquire() for _ in range(3)] == [True, True, False]
    with pytest.raises(LocalRateLimitTimeout):
        lim.acquire(51)
    assert lim.stats().effective_rpm == 120.0


def test_disabled_limits_admit_everything_but_still_hold() -> None:
    """With no rpm and no tpm every call is admitted at once, yet Together's zero-remaining hold still applies."""
    ft = FakeTime()
    lim = make(ft)
    assert all(lim.try_acquire(10**9) for _ in range(1000))
    lim.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0.5"})
    assert lim.acquire() == 0.5
    assert lim.stats().effective_rpm is None


def test_epoch_reset_holds_until_that_time_not_sixty_seconds() -> None:
    """x-ratelimit-reset as a Unix time 3 s ahead holds the next acquire 3 s (the retry policy's parser)."""
    ft = FakeTime()
    wall = 1_764_201_600.0
    lim = RateLimiter(rpm=600, tpm=None, max_wait=120.0, clock=ft.clock, sleep=ft.sleep, wall=lambda: wall)
    lim.observe(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(wall) + 3)})
    assert lim.acquire() == 3.0
    assert ft.sleeps == [3.0]
