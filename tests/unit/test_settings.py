"""Settings: precedence, parsing, validation, and that the key never shows."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from wrapper import ENV_VARS, Client, ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, **values: str) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def test_defaults(tmp_path: Path) -> None:
    """With nothing set, the documented defaults apply."""
    s = Settings.from_env(environ={}, env_dir=tmp_path)
    assert s.base_url == "https://api.together.xyz/v1"
    assert s.model == "Qwen/Qwen2.5-32B-Instruct-Turbo"
    assert s.timeout == 30.0 and s.connect_timeout == 5.0
    assert s.api_key is None and s.max_estimated_cost is None


def test_precedence_args_env_named_file_base_file(tmp_path: Path) -> None:
    """explicit > process env > .env.<TOGETHER_ENV> > .env, field by field."""
    _write(tmp_path / ".env", TOGETHER_TIMEOUT="11", TOGETHER_MODEL_STAGE1="from/base", MAX_ESTIMATED_COST="1",
           TOGETHER_MAX_RETRIES="7", TOGETHER_ENV="production")
    _write(tmp_path / ".env.production", TOGETHER_TIMEOUT="22", TOGETHER_MODEL_STAGE1="from/named",
           MAX_ESTIMATED_COST="2")
    _write(tmp_path / ".env.development", TOGETHER_TIMEOUT="99")
    environ = {"TOGETHER_MODEL_STAGE1": "from/env", "MAX_ESTIMATED_COST": "3"}
    s = Settings.from_env(environ=environ, env_dir=tmp_path, max_estimated_cost=Decimal("4"))
    assert Decimal("4") == s.max_estimated_cost  # explicit
    assert s.model == "from/env"  # env beats both files
    assert s.timeout == 22.0  # named file beats .env
    assert s.max_retries == 7  # only in .env
    assert s.env == "production"


def test_env_variable_selects_named_file(tmp_path: Path) -> None:
    """TOGETHER_ENV in the process environment picks .env.development."""
    _write(tmp_path / ".env.development", TOGETHER_TIMEOUT="9")
    s = Settings.from_env(environ={"TOGETHER_ENV": "development"}, env_dir=tmp_path)
    assert s.timeout == 9.0


def test_bad_values_name_the_variable(tmp_path: Path) -> None:
    """A variable that does not parse or is out of range raises ConfigError naming it."""
    with pytest.raises(ConfigError, match="TOGETHER_TIMEOUT"):
        Settings.from_env(environ={"TOGETHER_TIMEOUT": "soon"}, env_dir=tmp_path)
    with pytest.raises(ConfigError, match="TOGETHER_TIMEOUT"):
        Settings.from_env(environ={"TOGETHER_TIMEOUT": "-1"}, env_dir=tmp_path)
    with pytest.raises(ConfigError, match="TOGETHER_ENV"):
        Settings.from_env(environ={"TOGETHER_ENV": "staging"}, env_dir=tmp_path)
    with pytest.raises(ConfigError, match="MAX_ESTIMATED_COST"):
        Settings.from_env(environ={"MAX_ESTIMATED_COST": "lots"}, env_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.from_env(environ={}, env_dir=tmp_path, max_retry=3)


def test_missing_key_names_variable_and_files(tmp_path: Path) -> None:
    """Without a key, building a client raises ConfigError naming TOGETHER_API_KEY and the files read."""
    settings = Settings.from_env(environ={"TOGETHER_ENV": "production"}, env_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        Client(settings)
    message = str(info.value)
    assert "TOGETHER_API_KEY" in message
    assert str(tmp_path / ".env") in message and str(tmp_path / ".env.production") in message


@pytest.mark.parametrize("url", ["http://api.together.xyz/v1", "http://10.0.0.5:8080/v1", "ftp://x"])
def test_plain_http_refused_except_loopback(url: str) -> None:
    """The key is never sent over plain http to a non-loopback host."""
    with pytest.raises(ConfigError):
        Client(Settings(api_key=API_KEY, base_url=url, ledger_url="memory", rate_limit_rpm=None))


@pytest.mark.parametrize("url", ["http://127.0.0.1:4010", "http://localhost:8080/v1", "http://[::1]:9/v1"])
def test_plain_http_allowed_on_loopback(url: str) -> None:
    """Loopback test servers may use plain http."""
    Client(Settings(api_key=API_KEY, base_url=url, ledger_url="memory", rate_limit_rpm=None)).close()


def test_key_never_in_repr_or_str(tmp_path: Path) -> None:
    """Neither Settings nor the client nor its generated client shows the key."""
    settings = Settings.from_env(environ={"TOGETHER_API_KEY": API_KEY}, env_dir=tmp_path, ledger_url="memory")
    client = Client(settings)
    try:
        http = client._api.get_httpx_client()
        for obj in (settings, settings.api_key, client, client._api, http, http.headers, client.chat, client.settings):
            assert API_KEY not in repr(obj) and API_KEY not in str(obj)
        assert settings.require_api_key() == API_KEY
    finally:
        client.close()


def test_invalid_key_value_not_echoed(tmp_path: Path) -> None:
    """Errors about settings never echo the API key."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ={"TOGETHER_API_KEY": API_KEY, "TOGETHER_TIMEOUT": "x"}, env_dir=tmp_path)
    assert API_KEY not in str(info.value)


def test_env_example_and_readme_document_every_variable() -> None:
    """Every variable Settings reads is in .env.example and in the README's configuration table."""
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    assert set(ENV_VARS) <= documented, set(ENV_VARS) - documented
    for name in ENV_VARS:
        assert f"`{name}`" in readme, name
