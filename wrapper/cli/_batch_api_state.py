"""The Batch API job's state file and request files: what a resume needs to never upload or create twice.

The state file sits next to the output (``results.jsonl`` -> ``results.batch-api.json``) and is written
*before* anything is uploaded, then after every step (file uploaded, batch created, part settled in the ledger,
part's rows written), atomically (a temp file, fsync, ``os.replace``). It holds, per part of the job:

* ``file_name``: the unique name the part is uploaded under (so an upload whose answer was lost is found again
  with ``files.list()`` instead of uploaded twice);
* ``file_id`` and ``batch_id`` once known (a batch whose create answer was lost is found with ``batches.list()``
  by its ``input_file_id``);
* ``ids``: the row ids in the part; ``settled``: its usage is in the ledger; ``written``: its rows are in the
  output and errors files.

A part holds at most :data:`MAX_ROWS` rows and :data:`MAX_BYTES` bytes of JSONL (Together's per-file limits).
Its request file is written beside the state file under its ``file_name`` before the upload, and removed with
the state file when the job is finished.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from wrapper.cli._input import Row

__all__ = ["MAX_BYTES", "MAX_ROWS", "JobState", "Part", "request_line", "split_rows", "state_path"]

MAX_ROWS = 50_000
MAX_BYTES = 100 * 1024 * 1024
TERMINAL = frozenset({"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"})


def state_path(output: Path) -> Path:
    """``results.jsonl`` -> ``results.batch-api.json`` (beside the output)."""
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(f"{stem}.batch-api.json")


def request_line(row: Row, model: str, max_tokens: int) -> bytes:
    """One Batch API input line: ``{"custom_id": <row id as text>, "body": <the chat request>}``."""
    body: dict[str, Any] = {"model": row.model or model, "messages": row.messages, **row.params}
    body.setdefault("max_tokens", max_tokens)  # always bounded, so the worst case holds
    return json.dumps({"custom_id": row.key, "body": body}, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def split_rows(rows: Sequence[Row], model: str, max_tokens: int, *, max_rows: int | None = None,
               max_bytes: int | None = None) -> list[list[Row]]:
    """Cut ``rows`` into parts of at most ``max_rows`` rows and ``max_bytes`` bytes of request lines.

    Args:
        max_rows: default :data:`MAX_ROWS`; max_bytes: default :data:`MAX_BYTES` (read at call time).

    Raises:
        ValueError: one row alone is larger than ``max_bytes``.
    """
    max_rows = MAX_ROWS if max_rows is None else max_rows
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    parts: list[list[Row]] = []
    current: list[Row] = []
    size = 0
    for row in rows:
        n = len(request_line(row, model, max_tokens))
        if n > max_bytes:
            raise ValueError(f"row {row.id!r} (line {row.line}) is {n:,} bytes, above the Batch API's file limit")
        if current and (len(current) >= max_rows or size + n > max_bytes):
            parts.append(current)
            current, size = [], 0
        current.append(row)
        size += n
    if current:
        parts.append(current)
    return parts


@attrs.define
class Part:
    """One uploaded file and the batch over it."""

    file_name: str
    ids: list[str]
    file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    settled: bool = False
    written: bool = False

    @property
    def terminal(self) -> bool:
        """The batch reached COMPLETED, FAILED, EXPIRED or CANCELLED."""
        return self.status in TERMINAL


@attrs.define
class JobState:
    """The state file's content (see the module docstring)."""

    path: Path
    input: str
    run_id: str
    model: str
    max_tokens: int
    parts: list[Part]
    version: int = 1

    @classmethod
    def new(cls, path: Path, *, input: str, run_id: str, model: str, max_tokens: int,  # noqa: A002
            parts: Sequence[Sequence[Row]]) -> JobState:
        """A fresh state with one unique upload name per part."""
        token = secrets.token_hex(6)
        stem = path.name.removesuffix(".batch-api.json")
        return cls(path, input, run_id, model, max_tokens,
                   [Part(f"{stem}-{token}-part{i + 1}.jsonl", [r.key for r in rows]) for i, rows in enumerate(parts)])

    @classmethod
    def load(cls, path: Path) -> JobState | None:
        """The state file, or None when there is none.

        Raises:
            ValueError: the file exists but is not a state file of this version.
        """
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise ValueError(f"{path} is not a Batch API state file (version 1); move it away to start over")
        parts = [Part(**p) for p in doc["parts"]]
        return cls(path, doc["input"], doc["run_id"], doc["model"], int(doc["max_tokens"]), parts)

    def save(self) -> None:
        """Write the state atomically and durably (temp file, fsync, rename)."""
        doc = {"version": self.version, "input": self.input, "run_id": self.run_id, "model": self.model,
               "max_tokens": self.max_tokens, "parts": [attrs.asdict(p) for p in self.parts]}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def request_file(self, part: Part) -> Path:
        """Where ``part``'s request JSONL is written before its upload: beside the state file."""
        return self.path.with_name(part.file_name)

    def remove(self) -> None:
        """Delete the state file and the request files: the job is finished (a re-run starts a new one for rows
        not done)."""
        for part in self.parts:
            self.request_file(part).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
