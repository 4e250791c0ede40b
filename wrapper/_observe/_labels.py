"""Safe Prometheus label values: model ids and short fixed words, checked, normalised and bounded in number.

Labels carry only model ids (strict character set, no key-like text, at most 200 distinct) and short fixed words
for outcomes and retry reasons (normalised to ``[a-z0-9_]``, e.g. ``"429 dynamic_request_limited"`` ->
``429_dynamic_request_limited``, at most 64 distinct); a value that fails a check becomes ``other``. Callers pass
words from code, never user text.
"""

from __future__ import annotations

import re
import threading

from ._log import REDACTED, redact

__all__ = ["OTHER", "Labels"]

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}")
_MAX_MODELS = 200  # bounds on label cardinality, whatever the caller sends
_MAX_WORDS = 64
OTHER = "other"


class Labels:
    """The label values of one registry: each kind (``model``, ``outcome``, ``reason``) bounded on its own.

    A raw value is checked (redaction regexes) once: its label is cached, as that check was most of the per-call
    cost of metrics. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = {"model": set(), "outcome": set(), "reason": set()}
        self._labels: dict[tuple[str, str], str] = {}

    def model(self, model: str) -> str:
        """A safe label for a model id: nothing key-like, strict charset, at most ``_MAX_MODELS`` distinct."""
        label = self._labels.get(("model", model))
        if label is None:
            if redact(model) != model or REDACTED in model or not _MODEL.fullmatch(model):
                label = OTHER
            else:
                label = self._bounded("model", model, _MAX_MODELS)
            self._remember(("model", model), label)
        return label

    def word(self, kind: str, value: str) -> str:
        """A safe label for a fixed word (outcome, reason): normalised to ``[a-z0-9_]``, or ``other``."""
        label = self._labels.get((kind, value))
        if label is None:
            word = _NOT_WORD.sub("_", value.lower()).strip("_")[:40]
            if redact(value) != value or REDACTED in value or not word:
                label = OTHER
            else:
                label = self._bounded(kind, word, _MAX_WORDS)
            self._remember((kind, value), label)
        return label

    def _bounded(self, kind: str, value: str, limit: int) -> str:
        """``value`` if it is already a label of ``kind`` or there is room for one more, else ``other``."""
        seen = self._seen[kind]
        with self._lock:
            if value not in seen:
                if len(seen) >= limit:
                    return OTHER
                seen.add(value)
        return value

    def _remember(self, key: tuple[str, str], label: str) -> None:
        if label != OTHER and len(self._labels) < 4 * (_MAX_MODELS + _MAX_WORDS):  # bounded like the labels
            self._labels[key] = label
