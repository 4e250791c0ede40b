"""The committed env files: .env.development and .env.production are tracked, parse, and never hold a key."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

from wrapper import Settings
from wrapper._redact import redact

ROOT = Path(__file__).resolve().parents[2]
KEY_LIKE = re.compile(r"(?i)^(sk-|tgp_v\d+_)|^[0-9a-f]{40,}$|^[A-Za-z0-9_\-]{40,}$")


def _git(*args: str) -> str:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout


def test_committed_env_files_hold_no_key() -> None:
    """No env file tracked by git sets TOGETHER_API_KEY or any value that looks like a key."""
    tracked = [ROOT / name for name in _git("ls-files", "--", ".env*").split()]
    assert tracked, "expected at least .env.example to be tracked"
    for path in tracked:
        for name, value in dotenv_values(path).items():
            value = (value or "").strip()
            assert not (name == "TOGETHER_API_KEY" and value), f"{path.name} sets TOGETHER_API_KEY"
            assert not KEY_LIKE.search(value) and redact(value) == value, f"{path.name}: {name} looks like a key"


def test_per_environment_files_are_shipped_and_dot_env_stays_ignored() -> None:
    """.env.development and .env.production are committed files; .env itself is ignored by git."""
    for name in (".env.development", ".env.production"):
        assert "" == _git("check-ignore", name).strip(), f"{name} is git-ignored"
        assert (ROOT / name).is_file()
    assert ".env" == _git("check-ignore", ".env").strip()


@pytest.mark.parametrize("env", ["development", "production"])
def test_per_environment_files_parse_into_valid_settings(env: str, tmp_path: Path) -> None:
    """Each file sets the model, the budget, the confirmation threshold and the log level, all valid."""
    shutil.copy(ROOT / f".env.{env}", tmp_path / f".env.{env}")  # without a developer's own .env
    s = Settings.from_env(environ={"TOGETHER_ENV": env}, env_dir=tmp_path)
    assert None not in (s.max_estimated_cost, s.confirm_above_cost, s.log_level)
    assert s.api_key is None
    assert s.model in (ROOT / f".env.{env}").read_text()
