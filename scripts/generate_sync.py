"""Write the sync code from the async source: every ``_async/`` folder of PAIRS -> its ``_sync/`` twin.

The async code is the only source (as in httpcore): this script renames tokens with the ``unasync`` package
(``async``/``await`` dropped, ``__aenter__`` -> ``__enter__``, ...) plus the table below, then formats the result
with the pinned ruff so the committed files are stable.

    python scripts/generate_sync.py           rewrite wrapper/_pipeline/_sync/
    python scripts/generate_sync.py --check   exit 1 if the committed files differ from a fresh generation, or if a
                                        replacement in the table no longer matches anything (a stale rule)
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parent.parent
PAIRS = (  # (the async source folder, the generated sync folder, what the folder holds)
    (ROOT / "wrapper" / "_pipeline" / "_async", ROOT / "wrapper" / "_pipeline" / "_sync", "The sync shells"),
    (ROOT / "wrapper" / "_policies" / "_limiter" / "_async", ROOT / "wrapper" / "_policies" / "_limiter" / "_sync",
     "The limiter's waiting, sync"),
)

REPLACEMENTS = {
    "AsyncClient": "Client",
    "AsyncStream": "Stream",
    "AsyncBaseTransport": "BaseTransport",
    "ASYNC_HOOKS": "SYNC_HOOKS",
    "asyncio_detailed": "sync_detailed",
    "get_async_httpx_client": "get_httpx_client",
    "set_async_httpx_client": "set_httpx_client",
    "build_async_transport": "build_sync_transport",
    "aoffload": "offload",
    "async_loop": "sync_loop",
    "aclose": "close",
    "aread": "read",
    "aiter_sse": "iter_sse",
    "_afirst_data": "_first_data",
    "acquire_async": "acquire",
    "asleep": "sleep",
    "limiter_asleep": "limiter_sleep",
    "AsyncFiles": "Files",
    "AsyncBatches": "Batches",
    "_asleep": "_sleep",
    "_attempt_async": "_attempt",
    "_take_line_async": "_take_line",
    "_release_line_async": "_release_line",
}
_SOURCE_NOTE = re.compile(
    r"This file is the source; ``_sync/(\w+\.py)`` is generated from it by ``scripts/generate_sync.py``\.")
_DO_NOT_EDIT = "by ``scripts/generate_sync.py``: do not edit by hand."


def generate(source: Path, out: Path, what: str) -> None:
    """Write the sync twin of the async folder ``source`` into ``out`` (a folder named ``_sync``)."""
    work = Path(tempfile.mkdtemp())
    try:
        src = work / "_async"
        shutil.copytree(source, src, ignore=shutil.ignore_patterns("__pycache__"))
        files = sorted(str(p) for p in src.glob("*.py"))
        rule = unasync.Rule(fromdir=f"{work}/_async/", todir=f"{work}/_sync/", additional_replacements=REPLACEMENTS)
        unasync.unasync_files(files, [rule])
        init = work / "_sync" / "__init__.py"
        init.write_text(f'"""{what}, generated from ``../_async/`` {_DO_NOT_EDIT}"""\n')
        for path in (work / "_sync").glob("*.py"):
            text = _SOURCE_NOTE.sub(lambda m: f"Generated from ``_async/{m.group(1)}`` {_DO_NOT_EDIT}",
                                    path.read_text())
            path.write_text(text)
        ruff = Path(sys.executable).parent / "ruff"
        subprocess.run([str(ruff), "check", "--fix-only", "--quiet", "--select", "I,F401", str(work / "_sync")],
                       check=True, cwd=ROOT)
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(work / "_sync", out)
    finally:
        shutil.rmtree(work)


def stale_rules() -> list[str]:
    """Replacements that match no token of the sources any more."""
    text = "\n".join(p.read_text() for source, _, _ in PAIRS for p in source.glob("*.py"))
    return [name for name in REPLACEMENTS if not re.search(rf"\b{re.escape(name)}\b", text)]


def differences(source: Path, target: Path, what: str) -> list[str]:
    """Unified diffs between the committed ``target`` and a fresh generation from ``source``."""
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_sync"
        generate(source, fresh, what)
        names = sorted({p.name for p in fresh.glob("*.py")} | {p.name for p in target.glob("*.py")})
        for name in names:
            want = (fresh / name).read_text() if (fresh / name).exists() else ""
            have = (target / name).read_text() if (target / name).exists() else ""
            if want != have:
                where = target.relative_to(ROOT) / name
                diff = difflib.unified_diff(have.splitlines(), want.splitlines(), f"committed/{where}",
                                            f"generated/{where}", lineterm="", n=1)
                found.append("\n".join(list(diff)[:40]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with a fresh generation; change nothing")
    args = parser.parse_args()
    if not args.check:
        for source, target, what in PAIRS:
            generate(source, target, what)
            print(f"generated {target.relative_to(ROOT)}")
        return 0
    problems = [f"stale replacement (matches nothing): {name}" for name in stale_rules()]
    for source, target, what in PAIRS:
        problems += differences(source, target, what)
    for problem in problems:
        print(problem)
    if problems:
        print("a _sync/ folder is out of date: run python scripts/generate_sync.py (never edit it by hand)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
