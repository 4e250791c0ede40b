"""Keeping a batch's files truthful: the recovery file for answers a full disk could not take, the up-front
writability check, and the errors file rewritten after a resume. See :mod:`wrapper.cli._files`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["OutputError", "check_writable", "prune_errors", "recovery_path"]


class OutputError(Exception):
    """The output file cannot be used: locked by another process, or damaged before its last line."""


def recovery_path(output: Path) -> Path:
    """Where answers that could not be written to ``output`` are kept: the temp folder, named after the output."""
    digest = hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:16]
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return Path(tempfile.gettempdir()) / f"together-wrapper-recovery-{stem}-{digest}.jsonl"


def check_writable(path: Path) -> None:
    """Refuse before sending anything if ``path`` (or, when missing, its folder) cannot be written.

    Raises:
        OutputError: naming the path and what is wrong.
    """
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file path")
    target = path if path.exists() else path.parent
    if not target.exists():
        raise OutputError(f"{path}: the folder {target} does not exist")
    if not os.access(target, os.W_OK):
        raise OutputError(f"{path} is not writable ({'file' if target == path else 'folder'} permissions)")


def prune_errors(path: Path, done: set[str]) -> int:
    """Rewrite the errors file without the rows now done and with only the latest error of each row.

    Atomic (a temp file beside it, then ``os.replace``); the file is removed when nothing is left. Lines that
    do not parse are kept as they are. Returns how many lines were dropped; 0 leaves the file untouched.
    """
    if not path.exists():
        return 0
    lines = path.read_bytes().splitlines(keepends=True)
    latest: dict[str, int] = {}
    keys: list[str | None] = []
    for number, raw in enumerate(lines):
        try:
            record = json.loads(raw)
            key = str(record["id"]) if isinstance(record, dict) and "id" in record else None
        except ValueError:
            key = None
        keys.append(key)
        if key is not None:
            latest[key] = number
    kept = [raw if raw.endswith(b"\n") else raw + b"\n" for number, (raw, key) in enumerate(zip(lines, keys,
            strict=True)) if key is None or (key not in done and latest[key] == number)]
    dropped = len(lines) - len(kept)
    if not dropped:
        return 0
    if not kept:
        path.unlink()
        return dropped
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dropped
