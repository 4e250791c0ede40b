"""The layout keeps its promises: the committed sync shells equal a fresh unasync run, and the import contracts
(pyproject.toml ``[tool.importlinter]``: the CLI uses only the public API, layers, independence) hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sync_shells_equal_a_fresh_generation() -> None:
    """wrapper/_pipeline/_sync/ is exactly what scripts/generate_sync.py writes from _async/ (never hand-edited)."""
    result = subprocess.run([sys.executable, "scripts/generate_sync.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert 0 == result.returncode, result.stdout + result.stderr


def test_import_contracts_hold() -> None:
    """import-linter finds every contract kept and none broken."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_import_wrapper_loads_no_client_stack() -> None:
    """``import wrapper`` is lazy: httpx, the generated package, the policies' libraries, prometheus, aiohttp and
    the database drivers are loaded only when a name that needs them is first used."""
    code = ("import sys, wrapper\n"
            "heavy = ['httpx', 'together_api_client', 'backoff', 'circuitbreaker', 'pyrate_limiter',\n"
            "         'prometheus_client', 'aiohttp', 'psycopg', 'redis', 'rich', 'typer']\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "[]" == result.stdout.strip(), result.stdout + result.stderr


def test_no_private_generated_name_is_used() -> None:
    """Nothing outside generated/ reaches into the generated package's private helpers."""
    private = ("_get_kwargs", "_parse_response", "_build_response")
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "wrapper").rglob("*.py"))
                 for name in private if name in path.read_text(encoding="utf-8")]
    assert [] == offenders
