"""Read and check a batch input file: one JSON object per line, every problem reported with its line number.

Pure apart from reading the file: no client, no network. A row is ``{"id": ..., "messages": [...]}`` or
``{"id": ..., "prompt": "..."}``, optionally with ``model``, ``metadata`` (any JSON, copied to the output) and
the per-call parameters of ``chat.completions.create`` (``max_tokens``, ``temperature``, ...). Unknown keys are
refused rather than ignored: a misspelt ``max_token`` would otherwise silently cost the default bound.

Ids are compared as text (``1`` and ``"1"`` are the same row), because resuming and sharding both key on them.
A repeated id is a problem on its later lines; the first occurrence stays valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from wrapper import CompletionParams

__all__ = ["InputReport", "Problem", "Row", "Shard", "check_lines", "parse_row", "parse_shard", "read_input",
           "shard_index"]

PARAMS = frozenset(CompletionParams.__optional_keys__ | CompletionParams.__required_keys__)
ROW_KEYS = frozenset({"id", "messages", "prompt", "model", "metadata"}) | PARAMS
ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
_INTS = frozenset({"max_tokens", "top_k", "seed", "n", "logprobs"})
_NUMBERS = frozenset({"temperature", "top_p", "min_p", "repetition_penalty", "presence_penalty",
                      "frequency_penalty", "timeout"})
MAX_ID_LENGTH = 512


@attrs.frozen
class Row:
    """One valid input row, ready to send."""

    line: int
    key: str
    """The id as text: what resuming and sharding compare."""
    id: str | int
    """The id exactly as the input spelled it (copied to the output)."""
    messages: list[dict[str, Any]]
    params: dict[str, Any] = attrs.field(factory=dict)
    model: str | None = None
    metadata: Any = None


@attrs.frozen
class Problem:
    """Why one input line cannot be sent."""

    line: int
    id: str | None
    message: str


@attrs.frozen
class InputReport:
    """Every valid row (in file order) and every problem found; ``lines`` counts non-blank lines."""

    rows: list[Row]
    problems: list[Problem]
    lines: int


@attrs.frozen
class Shard:
    """Machine ``index`` (1-based) of ``count``: this machine sends the rows whose id hashes to it."""

    index: int
    count: int

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and shard_index(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_index(key: str, count: int) -> int:
    """The 1-based shard of an id: a stable hash (SHA-256, not ``hash()``), the same on every machine and run."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str) -> Shard:
    """Parse ``I/N`` (1 <= I <= N), as ``--shard 2/4``.

    Raises:
        ValueError: not two integers, or I outside 1..N; the message says what is expected.
    """
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ValueError(f"expected I/N such as 1/4, got {text!r}") from None
    if not sep or n < 1 or not 1 <= i <= n:
        raise ValueError(f"expected I/N with 1 <= I <= N (shards are numbered from 1), got {text!r}")
    return Shard(i, n)


def _check_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError('"id" must be a string or an integer')
    key = str(value)
    if not key.strip():
        raise ValueError('"id" must not be empty')
    if len(key) > MAX_ID_LENGTH:
        raise ValueError(f'"id" is longer than {MAX_ID_LENGTH} characters')
    return key


def _check_messages(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    if ("messages" in obj) == ("prompt" in obj):
        raise ValueError('a row needs exactly one of "messages" or "prompt"')
    if "prompt" in obj:
        prompt = obj["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError('"prompt" must be a non-empty string')
        return [{"role": "user", "content": prompt}]
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" must be a non-empty list')
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"messages[{i}] must be an object")
        if msg.get("role") not in ROLES:
            raise ValueError(f"messages[{i}].role must be one of {', '.join(sorted(ROLES))}")
        content = msg.get("content")
        if not (isinstance(content, (str, list)) or (content is None and msg["role"] == "assistant")):
            raise ValueError(f"messages[{i}].content must be a string or a list of parts")
    return messages


def _check_params(obj: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in obj.items() if k in PARAMS}
    for name, value in params.items():
        if name in _INTS and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f'"{name}" must be an integer')
        if name in _NUMBERS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f'"{name}" must be a number')
    if "max_tokens" in params and params["max_tokens"] < 1:
        raise ValueError('"max_tokens" must be at least 1')
    if params.get("n", 1) != 1:
        raise ValueError('"n" must be 1: a batch row gets one answer')
    return params


def parse_row(line: int, text: str) -> Row | Problem:
    """Check one line of the input; returns the row, or the problem with its line number."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return Problem(line, None, f"not valid JSON ({exc.args[0] if exc.args else exc})")
    if not isinstance(obj, dict):
        return Problem(line, None, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    shown = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
    try:
        if "id" not in obj:
            raise ValueError('missing "id"')
        key = _check_id(raw_id)
        unknown = sorted(set(obj) - ROW_KEYS)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: id, messages|prompt, model, metadata "
                             "and the parameters of chat.completions.create")
        messages = _check_messages(obj)
        model = obj.get("model")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ValueError('"model" must be a non-empty string')
        params = _check_params(obj)
    except ValueError as exc:
        return Problem(line, shown, str(exc))
    given: str | int = raw_id if isinstance(raw_id, (str, int)) else key
    return Row(line=line, key=key, id=given, messages=messages, params=params, model=model,
               metadata=obj.get("metadata"))


def check_lines(lines: Iterable[str]) -> InputReport:
    """Check every line (1-based numbers; blank lines skipped); a repeated id is a problem where it repeats."""
    rows: list[Row] = []
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    count = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        count += 1
        result = parse_row(number, text)
        if isinstance(result, Problem):
            problems.append(result)
        elif result.key in first_seen:
            problems.append(Problem(number, result.key, f"duplicate id (first on line {first_seen[result.key]})"))
        else:
            first_seen[result.key] = number
            rows.append(result)
    return InputReport(rows, problems, count)


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        yield from handle


def read_input(path: Path) -> InputReport:
    """Check every line of a JSONL file.

    Raises:
        OSError: the file cannot be read.
        UnicodeDecodeError: the file is not UTF-8.
    """
    return check_lines(_lines(path))
