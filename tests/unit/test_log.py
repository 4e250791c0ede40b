"""The loguru adapter: structured per-attempt and event records, JSON sink, and redaction of every secret."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger

from wrapper._observe._events import BudgetThreshold, RateLimited, RetryScheduled
from wrapper._observe._log import (
    REDACTED,
    enable_json_logs,
    get_logger,
    log_attempt,
    log_event,
    redact,
    register_secret,
)

PLANTED_KEY = "sk-test-PLANTED1234567890abcdefXYZ"
PLANTED_BEARER = "tok_PLANTED.bearer-0987654321"
PLANTED_SHAPELESS = "shapeless-PLANTED-secret-42"  # looks like nothing; only register_secret can catch it
PLANTED_HEX = "ab12" * 16  # a 64-hex legacy Together key


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    """Enable wrapper logs into a list sink for one test, then remove the sink and go quiet again.

    No name filter: records logged from this test module through get_logger are captured too
    (loguru's enable/disable and name filters key on the calling module, not on the logger object).
    """
    captured: list[dict[str, Any]] = []
    logger.enable("wrapper")
    handler = logger.add(lambda message: captured.append(dict(message.record)), level="DEBUG")
    yield captured
    logger.remove(handler)
    logger.disable("wrapper")


def _everything(record: dict[str, Any]) -> str:
    """All the text a sink could write for a record: message, extras, exception."""
    exc = record["exception"]
    return " ".join([record["message"], repr(record["extra"]), json.dumps(record["extra"], default=str),
                     "" if exc is None else f"{exc.type!r} {exc.value!s} {exc.value!r}"])


def test_attempt_record_has_every_field(records: list[dict[str, Any]]) -> None:
    """log_attempt emits exactly one record carrying all the per-attempt fields as structured extras."""
    log_attempt(get_logger("client"), request_id="req-1", model="m/one", status=200, latency_s=0.25, attempt=1,
                prompt_tokens=12, completion_tokens=34, cost_usd=Decimal("0.000123"), outcome="ok")
    assert len(records) == 1
    extra = records[0]["extra"]
    expected = {"component": "client", "event": "attempt", "request_id": "req-1", "model": "m/one", "status": 200,
                "latency_s": 0.25, "attempt": 1, "prompt_tokens": 12, "completion_tokens": 34,
                "cost_usd": "0.000123", "outcome": "ok"}
    assert expected == extra
    assert records[0]["level"].name == "INFO"


def test_failed_attempt_logs_at_warning(records: list[dict[str, Any]]) -> None:
    """An attempt that did not succeed is logged at WARNING so it stands out."""
    log_attempt(get_logger("client"), request_id=None, model="m", status=None, latency_s=None, attempt=2,
                prompt_tokens=None, completion_tokens=None, cost_usd=None, outcome="timeout")
    assert [r["level"].name for r in records] == ["WARNING"]
    assert records[0]["extra"]["status"] is None


def test_event_logged_at_warning_with_fields(records: list[dict[str, Any]]) -> None:
    """log_event turns a typed event into one WARNING record whose extras are the event's fields."""
    log_event(RetryScheduled(at=5.0, model="m", attempt=2, wait=1.5, reason="server_error", request_id="r-9"))
    log_event(BudgetThreshold(at=6.0, run_id="run-1", percent=80, spent=Decimal("8.00"), limit=Decimal("10")))
    assert [r["level"].name for r in records] == ["WARNING", "WARNING"]
    first, second = (r["extra"] for r in records)
    expected = {"component": "events", "event": "RetryScheduled", "at": 5.0, "model": "m", "attempt": 2,
                "wait": 1.5, "reason": "server_error", "request_id": "r-9"}
    assert first == expected
    got = (second["event"], second["spent"], second["limit"], second["percent"])
    assert got == ("BudgetThreshold", "8.00", "10", 80)


def test_planted_secrets_never_reach_a_record(records: list[dict[str, Any]]) -> None:
    """Keys in the message, nested extras, exceptions and events are all redacted before any sink sees them."""
    register_secret(PLANTED_SHAPELESS)
    log = get_logger("test")
    nested: dict[str, Any] = {"headers": {"Authorization": f"Bearer {PLANTED_BEARER}"},
                              "keys": [PLANTED_KEY, (PLANTED_SHAPELESS,)]}
    log.bind(payload=nested, hexkey=PLANTED_HEX).info(f"calling with {PLANTED_KEY} api_key={PLANTED_SHAPELESS}")
    log.warning("header was Authorization: Bearer {}", PLANTED_BEARER)
    log.info("obj {}", object.__new__(type("Leaky", (), {"__str__": lambda self: f"key={PLANTED_KEY}"})))
    try:
        raise RuntimeError(f"boom with {PLANTED_KEY}")
    except RuntimeError:
        log.exception("failed")
    log_event(RateLimited(at=1.0, model="m", type=f"api_key={PLANTED_SHAPELESS}", request_id=PLANTED_KEY,
                          retry_after=None))
    assert len(records) == 5
    for record in records:
        text = _everything(record)
        assert "PLANTED" not in text
        assert "ab12ab12" not in text
    assert REDACTED in records[0]["message"]
    assert nested["keys"][0] == PLANTED_KEY  # the caller's own objects are not mutated


def test_json_sink_one_liner_writes_redacted_json() -> None:
    """enable_json_logs turns logs on as JSON lines for wrapper records only, and they stay redacted."""
    sink = io.StringIO()
    handler = enable_json_logs(sink=sink, level="DEBUG")
    try:
        log_attempt(get_logger("client"), request_id=f"Bearer {PLANTED_BEARER}", model="m", status=200,
                    latency_s=0.1, attempt=1, prompt_tokens=1, completion_tokens=1, cost_usd=None, outcome="ok")
        logger.info("an application record that is not ours")
    finally:
        logger.remove(handler)
        logger.disable("wrapper")
    lines = sink.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])["record"]
    extra = record["extra"]
    assert (extra["component"], extra["event"], extra["request_id"]) == ("client", "attempt", f"Bearer {REDACTED}")
    assert "PLANTED" not in lines[0]


def _fail_with_secret_in_locals() -> None:
    header_value = "local-only-PLANTED-value"  # unregistered, shapeless: only a frame dump could show it
    raise RuntimeError("upstream refused: " + header_value[:8])  # diagnose would print header_value here


def test_exception_tracebacks_cannot_leak_locals() -> None:
    """A sink with loguru's default diagnose=True never prints frame locals: the type and message stay, frames go."""
    sink = io.StringIO()
    logger.enable("wrapper")
    handler = logger.add(sink, diagnose=True, backtrace=True, colorize=False)
    try:
        try:
            _fail_with_secret_in_locals()
        except RuntimeError:
            get_logger("test").exception("call failed")
    finally:
        logger.remove(handler)
        logger.disable("wrapper")
    text = sink.getvalue()
    assert "PLANTED" not in text
    assert "RuntimeError: upstream refused: local-on" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("key sk-abcdef123456 end", f"key {REDACTED} end"),
        ("Authorization: Bearer abc.def", f"Authorization: {REDACTED}"),
        ("{'authorization': 'Bearer xyz'}", f"{{'authorization': '{REDACTED}'}}"),
        ("token Bearer abc+/=", f"token Bearer {REDACTED}"),
        ("TOGETHER_API_KEY=abc123&x=1", f"TOGETHER_API_KEY={REDACTED}&x=1"),
        ('{"api_key": "secret-value"}', f'{{"api_key": "{REDACTED}"}}'),
        ("new tgp_v1_AbCdEf123456 key", f"new {REDACTED} key"),
        ("prompt_tokens=12 model=meta-llama/Llama-3 status=429",) * 2,
    ],
)
def test_redact_patterns(raw: str, expected: str) -> None:
    """redact replaces key-shaped values and header values, and leaves ordinary structured text alone."""
    assert expected == redact(raw)


def test_short_secrets_are_not_registered() -> None:
    """register_secret ignores None and strings too short to be keys, so logs are not shredded."""
    register_secret(None)
    register_secret("abc")
    assert redact("abc abc") == "abc abc"


def test_library_is_quiet_after_import() -> None:
    """Importing wrapper disables its logs: a sink the application adds sees nothing until it opts in."""
    code = (
        "import sys\nfrom loguru import logger\nlogger.remove()\nlogger.add(sys.stdout)\n"
        "import wrapper\nfrom wrapper._observe._events import QueueDepthHigh\n"
        "from wrapper._observe._log import log_event\n"
        "log_event(QueueDepthHigh(at=0.0, depth=1, threshold=111))\n"
        "logger.enable('wrapper')\nlog_event(QueueDepthHigh(at=0.0, depth=2, threshold=222))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "threshold=111" not in out
    assert "threshold=222" in out
