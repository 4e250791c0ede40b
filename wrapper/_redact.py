"""Secret redaction: the registry of exact secrets and the pattern scrubber, with no dependencies.

It sits at the bottom of the package, beside :mod:`wrapper._errors`, so errors can redact what they keep
(a 401 body that echoes the key) without importing loguru; :mod:`wrapper._observe._log` re-exports
:func:`redact` and :func:`register_secret` for its patcher. Stdlib only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "redact", "redact_value", "register_secret"]

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 4  # shorter strings would shred unrelated text; real keys are far longer

# Order matters: the header/field patterns keep their name and replace only the value.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([a-z_\-]*api[_\-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"), "Bearer " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), REDACTED),
    (re.compile(r"\btgp_v\d+_[A-Za-z0-9_\-]{6,}"), REDACTED),
    (re.compile(r"(?i)\b[0-9a-f]{48,}\b"), REDACTED),
)

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secrets_ordered: tuple[str, ...] = ()  # longest first, so a secret containing another is removed whole


def register_secret(value: str | None) -> None:
    """Remember an exact secret (e.g. the client's API key) so no log record or error text ever contains it.

    Args:
        value: the secret; ``None``, empty and very short (< 4 chars) values are ignored.
    """
    global _secrets_ordered
    if value is None or len(value.strip()) < _MIN_SECRET_LEN:
        return
    with _secrets_lock:
        if value not in _secrets:
            _secrets.add(value)
            _secrets_ordered = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """Return ``text`` with every key-like token and registered secret replaced by ``[REDACTED]``."""
    for secret in _secrets_ordered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """A redacted copy of parsed JSON (str, dict, list and scalars); never mutates ``value``.

    Dict keys are redacted too (a key can be echoed as a field name); other objects are returned as they are.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(k) if isinstance(k, str) else k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value
