"""Settings hardening: explicit None means off, non-finite numbers, the API key's shape, the base URL's path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY
from wrapper import AsyncClient, Client, ConfigError, Settings


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_explicit_none_switches_limits_off(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Client(rate_limit_rpm=None, ...) turns each "none disables" setting off, beating the environment."""
    monkeypatch.chdir(tmp_path)
    for name, value in (("TOGETHER_RATE_LIMIT_RPM", "50"), ("TOGETHER_RATE_LIMIT_TPM", "9000"),
                        ("TOGETHER_RETRY_DEADLINE", "30"), ("TOGETHER_STREAM_DEADLINE", "30"),
                        ("MAX_ESTIMATED_COST", "5")):
        monkeypatch.setenv(name, value)
    off: dict[str, Any] = dict.fromkeys(("rate_limit_rpm", "rate_limit_tpm", "retry_deadline", "stream_deadline",
                                         "max_estimated_cost"))
    client = (Client if kind == "sync" else AsyncClient)(api_key=API_KEY, ledger_url="memory", **off)
    try:
        s = client.settings
        assert [None] * 5 == [s.rate_limit_rpm, s.rate_limit_tpm, s.retry_deadline, s.stream_deadline,
                              s.max_estimated_cost]
        assert client.ledger.remaining() is None
    finally:
        if isinstance(client, AsyncClient):
            await client.aclose()
        else:
            client.close()


def test_none_for_other_settings_still_means_not_given(tmp_path: Path) -> None:
    """None for a setting without an "off" (api_key, model, confirm_above_cost) leaves the environment's value."""
    environ = {"TOGETHER_API_KEY": API_KEY, "TOGETHER_MODEL_STAGE1": "a/b", "CONFIRM_ABOVE_COST": "2"}
    s = Settings.from_env(environ=environ, env_dir=tmp_path, api_key=None, model=None, confirm_above_cost=None)
    assert (API_KEY, "a/b", Decimal("2")) == (s.require_api_key(), s.model, s.confirm_above_cost)


@pytest.mark.parametrize("name", ["TOGETHER_TIMEOUT", "TOGETHER_CONNECT_TIMEOUT", "TOGETHER_RETRY_BASE",
                                  "TOGETHER_RETRY_MAX_WAIT", "TOGETHER_RETRY_DEADLINE", "TOGETHER_RATE_LIMIT_MAX_WAIT",
                                  "TOGETHER_BREAKER_WINDOW", "TOGETHER_BREAKER_RECOVERY",
                                  "TOGETHER_STREAM_IDLE_TIMEOUT", "TOGETHER_STREAM_DEADLINE", "MAX_ESTIMATED_COST",
                                  "CONFIRM_ABOVE_COST", "TOGETHER_FALLBACK_PRICE"])
@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_non_finite_settings_are_config_errors_naming_the_variable(name: str, raw: str, tmp_path: Path) -> None:
    """NaN and +-inf in any numeric variable raise ConfigError naming it, never InvalidOperation/OverflowError."""
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(environ={name: raw}, env_dir=tmp_path)


@pytest.mark.parametrize("field", ["timeout", "retry_base", "max_retries", "max_estimated_cost", "fallback_price",
                                   "rate_limit_rpm", "breaker_window"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity")])
def test_non_finite_arguments_are_config_errors(field: str, value: object) -> None:
    """A non-finite value passed directly is refused at construction, naming the field."""
    with pytest.raises(ConfigError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_key_is_stripped_of_surrounding_whitespace(tmp_path: Path) -> None:
    """A key pasted with a newline or spaces around it is used without them."""
    s = Settings.from_env(environ={"TOGETHER_API_KEY": f"  {API_KEY}\n"}, env_dir=tmp_path)
    assert API_KEY == s.require_api_key()
    assert API_KEY == Settings(api_key=f"\t{API_KEY} ").require_api_key()


@pytest.mark.parametrize("key", [API_KEY + "\u00e9", "sk-\u2011dash-PLANTED-0123456789", "sk-with space-PLANTED-01",
                                 "sk-ctrl\x07-PLANTED-0123"])
def test_bad_key_characters_refused_without_showing_the_key(key: str, tmp_path: Path) -> None:
    """A non-ASCII, spaced or control-character key is a ConfigError at construction that never shows the key."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ={"TOGETHER_API_KEY": key}, env_dir=tmp_path)
    assert "PLANTED" not in str(info.value) and "TOGETHER_API_KEY" in str(info.value)
    with pytest.raises(ConfigError) as info2:
        Client(api_key=key, ledger_url="memory")
    assert "PLANTED" not in str(info2.value)


@pytest.mark.parametrize(("given", "used"), [
    ("https://api.together.xyz", "https://api.together.xyz/v1"),
    ("https://api.together.xyz/", "https://api.together.xyz/v1"),
    ("https://api.together.xyz/v1/", "https://api.together.xyz/v1"),
    ("https://api.together.xyz/v1/chat/completions", "https://api.together.xyz/v1"),
    ("https://api.together.ai/chat/completions", "https://api.together.ai/v1"),
    ("http://127.0.0.1:4010/chat/completions/", "http://127.0.0.1:4010"),
    ("https://proxy.example/together/v1", "https://proxy.example/together/v1"),
])
def test_base_url_is_normalised_to_the_api_root(given: str, used: str) -> None:
    """Together's host always gets /v1; a trailing /chat/completions or / is dropped on any host."""
    assert used == Settings(base_url=given).base_url


def test_base_url_with_a_wrong_path_on_together_is_refused_with_a_hint() -> None:
    """A Together URL with a path other than /v1 is refused, naming the right base URL."""
    with pytest.raises(ConfigError, match=r"https://api.together.xyz/v1"):
        Settings(base_url="https://api.together.xyz/v2")


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("name", "raw"), [("TOGETHER_TIMEOUT", "inf"), ("MAX_ESTIMATED_COST", "nan"),
                                           ("TOGETHER_API_KEY", "sk-\u00e9t\u00e9-PLANTED-0123456789")])
async def test_bad_environment_fails_at_client_construction(kind: str, name: str, raw: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Both clients raise ConfigError naming the variable when built, never at call time, never showing a key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOGETHER_API_KEY", API_KEY)
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=name) as info:
        (Client if kind == "sync" else AsyncClient)(ledger_url="memory")
    assert "PLANTED" not in str(info.value)
