"""The batch's files: the resumable JSONL output, the errors file, and the lines written to both.

Each finished row is one ``write`` of one complete line followed by ``flush`` (and ``os.fsync`` when asked),
so a killed process leaves at most one torn line at the very end. Opening the output again reads the ids
already done, drops such a torn tail (truncating the file to its last complete line) and keeps appending.
A line that does not parse *before* the end is not a crash artefact: we refuse to guess and say which line.

The output is locked (``fcntl.flock``, exclusive, non-blocking) while a batch runs, so two processes can never
append to, and pay for, the same output at once. Where ``fcntl`` does not exist the lock is skipped.

When a write fails (a full disk), answers already paid for must not be lost: the runner writes them to a
*recovery file* on another path (``_recovery.recovery_path``: the system temp folder, named after the output).
Opening the output again appends the recovered lines whose ids are not in it yet and then deletes the
recovery file, so a resume never pays twice for a row whose answer was received.

After a run, ``_recovery.prune_errors`` rewrites the errors file (atomically: a temp file, then ``os.replace``)
to drop the rows that are now done and keep only the latest error of each row, so it tells the truth after a
resume.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from wrapper.cli._input import Row
from wrapper.cli._recovery import OutputError, recovery_path

__all__ = ["JsonlAppender", "OutputError", "Recovery", "ResultFile", "default_errors_path", "error_record",
           "result_record"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def default_errors_path(output: Path) -> Path:
    """``results.jsonl`` -> ``results.errors.jsonl`` (beside the output)."""
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(f"{stem}.errors.jsonl")


def _line(record: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        return text.encode() + b"\n"
    except UnicodeEncodeError:  # a lone surrogate from the wire: escape everything rather than lose the row
        return json.dumps(record, separators=(",", ":")).encode() + b"\n"


class JsonlAppender:
    """Appends JSON objects as lines: one write, then flush (and fsync when ``durable``).

    Given a path, the file is created on the first append only (no empty errors file after a clean run).
    """

    def __init__(self, target: Path | IO[bytes], *, durable: bool = False) -> None:
        self._path = target if isinstance(target, Path) else None
        self._handle: IO[bytes] | None = None if isinstance(target, Path) else target
        self._durable = durable
        self._broken = False

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and push it to the operating system before returning.

        Raises:
            OSError: the write failed (e.g. ENOSPC); the caller decides where the record goes instead.
        """
        try:
            if self._handle is None:
                assert self._path is not None
                self._handle = self._path.open("ab")
            self._handle.write(_line(record))
            self._handle.flush()
            if self._durable:
                os.fsync(self._handle.fileno())
        except OSError:
            self._broken = True
            raise

    def close(self) -> None:
        """Close the file if it was opened; idempotent. After a failed write, closing never raises."""
        if self._handle is not None:
            if self._broken:  # the unflushed buffer of the failed write would raise again on close
                with contextlib.suppress(OSError):
                    self._handle.close()
            else:
                self._handle.close()


class Recovery:
    """Where paid answers go once the output failed a write: the recovery file, and memory (:attr:`kept`)."""

    def __init__(self, output: Path, failed: object, error: OSError) -> None:
        self.path = recovery_path(output)
        self.failed, self.error = failed, error
        self.kept: list[dict[str, Any]] = []
        self.write_error: OSError | None = None
        self._out = JsonlAppender(self.path, durable=True)

    def keep(self, record: dict[str, Any]) -> None:
        """Keep one answer in memory and, while that works, in the recovery file."""
        self.kept.append(record)
        if self.write_error is None:
            try:
                self._out.append(record)
            except OSError as exc:
                self.write_error = exc

    def detail(self) -> str:
        """One sentence: what failed, how many paid answers are not in the output, and where they are."""
        where = (f"kept in {self.path} (the next run adds them to the output before sending)"
                 if self.write_error is None else
                 f"kept in memory only: the recovery file failed too ({self.write_error.strerror})")
        return (f"cannot write {self.failed} ({self.error.strerror or self.error}); {len(self.kept)} paid "
                f"answer(s) not in the output, {where}")

    def close(self) -> None:
        """Close the recovery file; idempotent."""
        self._out.close()


def _lock(handle: IO[bytes], path: Path) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OutputError(f"{path} is in use by another batch process; wait for it or choose another --out") from None


def _scan(data: bytes, path: Path) -> tuple[set[str], str | None, int]:
    """Ids done, the first run id seen, and how many bytes to keep (a torn last line is dropped)."""
    done: set[str] = set()
    run_id: str | None = None
    keep = 0
    lines = data.split(b"\n")
    last = len(lines) - 1
    for number, raw in enumerate(lines):
        if not raw.strip():
            keep += len(raw) + (1 if number < last else 0)
            continue
        try:
            record = json.loads(raw)
            key = record["id"] if isinstance(record, dict) else None
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise ValueError("no id")
        except (ValueError, KeyError):
            if number == last or (number == last - 1 and not lines[last].strip()):
                break  # the torn tail of a crash: drop it
            raise OutputError(f"{path} line {number + 1} is not a result line; fix or remove it, then run again") \
                from None
        done.add(str(key))
        if run_id is None and isinstance(record.get("run_id"), str):
            run_id = record["run_id"]
        keep += len(raw) + (1 if number < last else 0)
    return done, run_id, keep


class ResultFile:
    """The batch output: locked, repaired, and knowing which ids are done.

    Attributes:
        done: ids (as text) of rows already in the file.
        run_id: the budget run named by the first result line, if any (a resume continues that run).
        repaired: whether a torn last line was removed.
        created: whether this object created the file.
        recovered: lines added from the recovery file of an earlier run that could not write them.
    """

    def __init__(self, path: Path, *, durable: bool = False) -> None:
        """Open (creating it if missing), lock, read and repair ``path``.

        Raises:
            OutputError: another process holds the lock, or a line before the last is damaged.
            OSError: the file cannot be opened.
        """
        self.path = path
        self.created = not path.exists()
        handle = path.open("a+b")
        _lock(handle, path)
        try:
            handle.seek(0)
            data = handle.read()
            self.done, self.run_id, keep = _scan(data, path)
            self.repaired = keep < len(data)
            if self.repaired:
                handle.truncate(keep)
            if keep and not data[:keep].endswith(b"\n"):
                handle.write(b"\n")  # a complete last line without its newline
                handle.flush()
            self.recovered = self._absorb(handle, recovery_path(path))
        except BaseException:
            handle.close()
            raise
        self._out = JsonlAppender(handle, durable=durable)

    def _absorb(self, handle: IO[bytes], recovery: Path) -> int:
        """Append the recovery file's lines not yet in the output, then delete it; returns how many were added.

        Raises:
            OSError: the output still cannot be written (the recovery file is kept for the next try).
        """
        if not recovery.is_file():
            return 0
        added = 0
        for raw in recovery.read_bytes().splitlines():
            try:
                record = json.loads(raw)
                key = str(record["id"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line of the recovery file: that row is simply not done
            if key not in self.done:
                handle.write(raw.rstrip(b"\r") + b"\n")
                self.done.add(key)
                added += 1
        handle.flush()
        os.fsync(handle.fileno())
        recovery.unlink()
        return added

    def append(self, record: dict[str, Any]) -> None:
        """Append one finished row and remember its id."""
        self._out.append(record)
        self.done.add(str(record["id"]))

    def close(self, *, discard_if_unused: bool = False) -> None:
        """Release the lock; with ``discard_if_unused``, delete the file if this object created it and it is empty."""
        self._out.close()
        if discard_if_unused and self.created and self.path.exists() and self.path.stat().st_size == 0:
            self.path.unlink()

    def __enter__(self) -> ResultFile:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def result_record(row: Row, body: dict[str, Any], cost: Decimal | None, run_id: str) -> dict[str, Any]:
    """The output line of a finished row (``body`` is the response's ``to_dict()``): id, text, usage, cost
    (a decimal string), request id, model, finish reason, run id."""
    choices = body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    record: dict[str, Any] = {
        "id": row.id, "text": message.get("content"), "usage": body.get("usage"),
        "cost": None if cost is None else format(cost, "f"), "request_id": body.get("id"),
        "model": body.get("model"), "finish_reason": choices[0].get("finish_reason"), "run_id": run_id,
        "time": _now(),
    }
    if message.get("tool_calls"):
        record["tool_calls"] = message["tool_calls"]
    if row.metadata is not None:
        record["metadata"] = row.metadata
    return record


def error_record(row: Row, exc: BaseException, run_id: str) -> dict[str, Any]:
    """The errors-file line of a failed row: the typed reason and whatever identifies the failed request."""
    return {
        "id": row.id, "line": row.line, "error_type": type(exc).__name__,
        "status": getattr(exc, "status_code", None), "type": getattr(exc, "type", None),
        "code": getattr(exc, "code", None), "message": str(exc), "request_id": getattr(exc, "request_id", None),
        "attempts": getattr(exc, "attempts", None), "run_id": run_id, "time": _now(),
    }
