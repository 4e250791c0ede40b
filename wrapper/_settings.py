"""Frozen client settings; ``Settings.from_env()`` is the only reader of the environment.

Precedence, highest first: explicit arguments > the process environment >
``.env.<TOGETHER_ENV>`` > ``.env``. Every variable is listed in ``.env.example``
and the README's configuration table; a test keeps the three in step. The parsers,
converters and validators of the fields are in :mod:`wrapper._settings_fields`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from dotenv import dotenv_values

from ._errors import ConfigError
from ._settings_fields import (
    DEFAULT_BASE_URL,
    Secret,
    _env,
    _meta,
    _non_negative,
    _one_of,
    _optional,
    _parse_bool,
    _parse_decimal,
    _parse_percents,
    _positive,
    _to_base_url,
    _to_decimal,
    _to_models,
    _to_percents,
    _to_secret,
)

__all__ = ["ENV_VARS", "Settings"]

DEFAULT_MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
ENVIRONMENTS = ("development", "production")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


@attrs.frozen(kw_only=True)
class Settings:
    """Everything a client needs to know, immutable once built.

    Build it with ``Settings.from_env(**overrides)`` (reads the environment and
    ``.env`` files) or ``Settings(**values)`` (reads nothing). Derive variants with
    ``attrs.evolve`` or ``settings.evolve(**changes)``.
    """

    api_key: Secret | None = attrs.field(
        default=None, converter=_to_secret, repr=False,
        metadata=_meta("TOGETHER_API_KEY", str, "Together API key (required to send requests)"))
    base_url: str = _env("TOGETHER_BASE_URL", str, DEFAULT_BASE_URL,
                         "API base URL, up to /v1 (a trailing /chat/completions is dropped)",
                         converter=_to_base_url)
    model: str = _env("TOGETHER_MODEL_STAGE1", str, DEFAULT_MODEL, "model used when a call names none")
    model_fallbacks: tuple[str, ...] = attrs.field(
        default=(), converter=_to_models,
        metadata=_meta("TOGETHER_MODEL_FALLBACKS", _to_models,
                       "comma-separated models tried in order when the model is not served (or its breaker "
                       "stays open); none = no fallback"))
    env: str | None = _env("TOGETHER_ENV", str, None, "development or production: which .env.<name> file to read")
    timeout: float = _env("TOGETHER_TIMEOUT", float, 30.0, "seconds per attempt, total", validator=_positive)
    connect_timeout: float = _env("TOGETHER_CONNECT_TIMEOUT", float, 5.0, "seconds to connect", validator=_positive)
    max_connections: int = _env("TOGETHER_MAX_CONNECTIONS", int, 100, "connection pool size", validator=_positive)
    # httpx's default. httpcore 1.0's async pool scans every connection for each idle one on every request, so a
    # pool that keeps 100 idle costs 4x the CPU per request at 64 in flight (benchmarks/bench_clients.py).
    max_keepalive_connections: int = _env("TOGETHER_MAX_KEEPALIVE", int, 20,
                                          "idle connections kept open (httpx's default; more cost CPU per request, "
                                          "see Benchmarks)",
                                          validator=_non_negative)
    http_backend: str = _env("TOGETHER_HTTP_BACKEND", str, "httpx",
                             "the async client's HTTP backend: httpx (default) or aiohttp (pip extra aiohttp)",
                             validator=_one_of("httpx", "aiohttp"))
    # resilience
    max_retries: int = _env("TOGETHER_MAX_RETRIES", int, 3, "retries after the first attempt", validator=_non_negative)
    retry_base: float = _env("TOGETHER_RETRY_BASE", float, 2.0, "first retry wait in seconds (doubles each retry)",
                             validator=_positive)
    retry_max_wait: float = _env("TOGETHER_RETRY_MAX_WAIT", float, 60.0,
                                 "cap on one wait; a server hint above it gives up at once", validator=_positive)
    retry_deadline: float | None = _env("TOGETHER_RETRY_DEADLINE", _optional(float), 300.0,
                                        "total seconds one call may take across retries; none = no limit",
                                        validator=_positive)
    retry_read_timeouts: bool = _env("TOGETHER_RETRY_READ_TIMEOUTS", _parse_bool, True,
                                     "retry attempts that timed out after sending")
    rate_limit_rpm: int | None = _env("TOGETHER_RATE_LIMIT_RPM", _optional(int), 100,
                                      "requests per minute (also spread per second); none disables",
                                      validator=_positive)
    rate_limit_tpm: int | None = _env("TOGETHER_RATE_LIMIT_TPM", _optional(int), None,
                                      "estimated tokens per minute; none disables", validator=_positive)
    rate_limit_max_wait: float = _env("TOGETHER_RATE_LIMIT_MAX_WAIT", float, 120.0,
                                      "longest wait in our own queue before LocalRateLimitTimeout",
                                      validator=_positive)
    rate_limit_backend: str = _env("TOGETHER_RATE_LIMIT_BACKEND", str, "memory",
                                   "memory | sqlite:///path | redis://host:port/db")
    rate_limit_key: str = _env("TOGETHER_RATE_LIMIT_KEY", str, "together",
                               "bucket name shared by processes using one API key")
    breaker_failures: int = _env("TOGETHER_BREAKER_FAILURES", int, 5, "counted failures that open a model's breaker",
                                 validator=_positive)
    breaker_window: float = _env("TOGETHER_BREAKER_WINDOW", float, 60.0, "seconds in which failures are counted",
                                 validator=_positive)
    breaker_recovery: float = _env("TOGETHER_BREAKER_RECOVERY", float, 30.0, "seconds open before one probe",
                                   validator=_positive)
    breaker_patience: float = _env("TOGETHER_BREAKER_PATIENCE", float, 120.0,
                                   "seconds a model's breaker may stay open before calls move to the next "
                                   "fallback (batch stops when none is left)", validator=_non_negative)
    # streaming
    stream_idle_timeout: float = _env("TOGETHER_STREAM_IDLE_TIMEOUT", float, 30.0,
                                      "longest silence between stream events", validator=_positive)
    stream_deadline: float | None = _env("TOGETHER_STREAM_DEADLINE", _optional(float), None,
                                         "total seconds a stream may last; none = no limit", validator=_positive)
    # cost
    max_estimated_cost: Decimal | None = attrs.field(
        default=None, converter=_to_decimal, validator=_non_negative,
        metadata=_meta("MAX_ESTIMATED_COST", _optional(_parse_decimal), "USD budget per run; none = no budget"))
    confirm_above_cost: Decimal | None = attrs.field(
        default=None, converter=_to_decimal, validator=_non_negative,
        metadata=_meta("CONFIRM_ABOVE_COST", _optional(_parse_decimal),
                       "USD estimate above which an operation needs confirmation"))
    default_max_tokens: int = _env("TOGETHER_DEFAULT_MAX_TOKENS", int, 1024,
                                   "max_tokens given to calls without one while a budget is set",
                                   validator=_positive)
    fallback_price: Decimal | None = attrs.field(
        default=None, converter=_to_decimal, validator=_non_negative,
        metadata=_meta("TOGETHER_FALLBACK_PRICE", _optional(_parse_decimal),
                       "USD per 1M tokens for models missing from the price table"))
    prices_file: str | None = _env("TOGETHER_PRICES_FILE", _optional(str), None,
                                   "JSON file of prices that overrides the built-in table")
    ledger_url: str | None = _env("TOGETHER_LEDGER_URL", _optional(str), None,
                                  "sqlite:///path, postgresql://..., or memory; default: the user data dir")
    run_id: str | None = _env("TOGETHER_RUN_ID", _optional(str), None,
                              "names the budget run; default: one per client")
    # observability
    queue_alert_depth: int = _env("TOGETHER_QUEUE_ALERT_DEPTH", int, 50,
                                  "rate-limit queue depth that raises an alert event", validator=_positive)
    storm_429s: int = _env("TOGETHER_STORM_429S", int, 10,
                           "429s within TOGETHER_STORM_WINDOW that raise one RateLimitStorm alert", validator=_positive)
    storm_window: float = _env("TOGETHER_STORM_WINDOW", float, 60.0,
                               "seconds over which 429s are counted for the storm alert", validator=_positive)
    budget_alerts: tuple[int, ...] = attrs.field(
        default=(50, 80, 100), converter=_to_percents,
        metadata=_meta("TOGETHER_BUDGET_ALERTS", _parse_percents,
                       "budget percentages that raise a BudgetThreshold event, e.g. 50,80,100; none = no alerts"))
    log_level: str | None = _env("TOGETHER_LOG_LEVEL", _optional(str), None,
                                 "CLI: level of the SDK's JSON logs (to --log-file, else stderr); none = off")

    @log_level.validator
    def _check_log_level(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None and value.upper() not in LOG_LEVELS:
            raise ConfigError(f"TOGETHER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} or none, got {value!r}")

    @base_url.validator
    def _check_base_url(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"TOGETHER_BASE_URL must start with http:// or https://, got {value!r}")

    @env.validator
    def _check_env(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None and value not in ENVIRONMENTS:
            raise ConfigError(f"TOGETHER_ENV must be one of {', '.join(ENVIRONMENTS)}, got {value!r}")

    files_read: tuple[str, ...] = attrs.field(default=(), repr=False, eq=False)
    """The ``.env`` files ``from_env`` looked at, for error messages."""

    @classmethod
    def from_env(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        env_dir: str | os.PathLike[str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from arguments, the environment and ``.env`` files.

        Args:
            environ: the environment to read (default ``os.environ``); tests pass a dict.
            env_dir: where ``.env`` and ``.env.<TOGETHER_ENV>`` live (default: the working directory).
            **overrides: field values that win over everything else. ``None`` switches off the settings in
                :data:`NONE_DISABLES` (``rate_limit_rpm=None``: no request limit, whatever the environment
                says); for every other setting ``None`` means "not given" and is ignored.

        Raises:
            ConfigError: a variable does not parse or is out of range; the message names it.
        """
        environ = os.environ if environ is None else environ
        folder = Path(env_dir) if env_dir is not None else Path.cwd()
        base_file = folder / ".env"
        layers: list[Mapping[str, str | None]] = [dotenv_values(base_file)] if base_file.is_file() else []
        looked = [str(base_file)]
        env_name = overrides.get("env") or environ.get("TOGETHER_ENV") or (
            layers[0].get("TOGETHER_ENV") if layers else None)
        if env_name:
            if env_name not in ENVIRONMENTS:
                raise ConfigError(f"TOGETHER_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env_name!r}")
            named = folder / f".env.{env_name}"
            looked.append(str(named))
            if named.is_file():
                layers.append(dotenv_values(named))
        layers.append(environ)
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            name = field.metadata.get("env")
            if name is None:
                continue
            raw = next((layer[name] for layer in reversed(layers) if layer.get(name) is not None), None)
            if raw is None:
                continue
            try:
                values[field.name] = field.metadata["parse"](raw)
            except (ValueError, ArithmeticError) as exc:
                shown = "***" if field.name == "api_key" else repr(raw)
                raise ConfigError(f"{name}={shown} is invalid: {exc}") from None
        unknown = set(overrides) - {f.name for f in attrs.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None or k in NONE_DISABLES})
        values["files_read"] = tuple(looked)
        return cls(**values)

    def evolve(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (validated again)."""
        return attrs.evolve(self, **changes)

    def require_api_key(self) -> str:
        """Return the API key, or raise :class:`ConfigError` naming where it was looked for."""
        if self.api_key is None:
            where = ", ".join(self.files_read) if self.files_read else "no .env files (Settings built directly)"
            raise ConfigError(
                "no API key: set TOGETHER_API_KEY in the environment or a .env file, or pass "
                f"api_key=...; looked in the process environment and {where}"
            )
        return self.api_key.get()


NONE_DISABLES = frozenset({
    "retry_deadline", "rate_limit_rpm", "rate_limit_tpm", "stream_deadline", "max_estimated_cost",
})
"""Settings whose ``None`` means "off" (documented "none disables"); an explicit ``None`` override wins."""

ENV_VARS: dict[str, str] = {
    f.metadata["env"]: f.metadata["doc"] for f in attrs.fields(Settings) if "env" in f.metadata
}
"""Every environment variable this package reads, with its one-line description."""
