"""Server hints, read the same way everywhere: ``retry-after(-ms)``, ``x-ratelimit-reset``, ``x-should-retry``.

Pure functions of the response headers (any mapping; names matched case-insensitively) and the wall clock. The
retry policy reads them to time a retry, the limiter to hold new calls until a reset: one parser for both, so a
reset sent as a Unix time means the same thing to each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after", "reset_seconds", "should_retry_header"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_LIKE = 1_000_000_000.0  # an x-ratelimit-reset this large is a Unix time, not a number of seconds


def should_retry_header(headers: Mapping[str, str]) -> bool | None:
    """Read ``x-should-retry``: True for ``"true"``, False for ``"false"``, None when absent or other."""
    value = _lower_keys(headers).get("x-should-retry")
    if value is None:
        return None
    return {"true": True, "false": False}.get(value.strip().lower())


def parse_retry_after(headers: Mapping[str, str], status_code: int, now_wall: float) -> float | None:
    """The server's retry hint in seconds, from the first header that parses.

    In order: ``retry-after-ms`` (milliseconds), ``retry-after`` (seconds or an HTTP-date,
    made relative to ``now_wall``), and for 429 only Together's ``x-ratelimit-reset``
    (seconds until the limit resets; a value that looks like a Unix time, >= 1e9, is made
    relative to ``now_wall``). Negative values become 0; a header that does not parse is
    skipped.

    Args:
        headers: the response headers (any mapping; names are matched case-insensitively).
        status_code: the response status.
        now_wall: the wall clock now, in epoch seconds (``time.time()``).

    Returns:
        Seconds to wait, or None when no header gives a usable hint.
    """
    low = _lower_keys(headers)
    candidates: list[float | None] = [
        _seconds(low.get("retry-after-ms"), scale=0.001),
        _seconds_or_date(low.get("retry-after"), now_wall),
    ]
    if status_code == 429:
        candidates.append(reset_seconds(low.get("x-ratelimit-reset"), now_wall))
    for value in candidates:
        if value is not None:
            return max(0.0, value)
    return None


def reset_seconds(raw: str | None, now_wall: float) -> float | None:
    """Seconds until a ``x-ratelimit-reset``-style header says the limit resets; the one parser for it.

    Together sends either a number of seconds or a Unix time; a value >= 1e9 is read as a Unix
    time and made relative to ``now_wall``. The result is never negative.

    Args:
        raw: the header value, or None when absent.
        now_wall: the wall clock now, in epoch seconds (``time.time()``).

    Returns:
        Seconds (>= 0), or None when the value is absent, not a number, or not finite.
    """
    reset = _seconds(raw)
    if reset is None:
        return None
    if reset >= _EPOCH_LIKE:
        reset -= now_wall
    return max(0.0, reset)


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _seconds(raw: str | None, scale: float = 1.0) -> float | None:
    """A finite number from a header value, times ``scale``; None when absent or garbage."""
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value * scale if math.isfinite(value) else None


def _seconds_or_date(raw: str | None, now_wall: float) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    seconds = _seconds(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP-dates are always UTC
        return (when - _EPOCH).total_seconds() - now_wall
    return when.timestamp() - now_wall
