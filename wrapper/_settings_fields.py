"""The parts the fields of Settings are built from: the Secret type, parsers, converters and validators.

Parsers (``_parse_*``, ``_optional``) read the text of one environment variable; converters (``_to_*``) turn what
an argument or a parser gave into the stored value; validators raise :class:`ConfigError` naming the variable.
``_env`` and ``_meta`` attach a field's variable, parser and one-line description, which ``Settings.from_env``,
``ENV_VARS`` and the configuration table read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs

from ._errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "TOGETHER_HOSTS", "Secret"]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.together.xyz/v1"
TOGETHER_HOSTS = ("api.together.xyz", "api.together.ai")  # Together's own hosts serve the API under /v1 only


@attrs.frozen(repr=False)
class Secret:
    """A string that never shows itself in ``repr``/``str``; ``get()`` returns it."""

    _value: str

    def get(self) -> str:
        """Return the secret value; pass it only to where it must go."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def _parse_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false")


def _parse_decimal(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError("expected a decimal number") from None
    if not value.is_finite():
        raise ValueError("expected a finite decimal number (not NaN or infinity)")
    return value


def _optional(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    def inner(raw: str) -> T | None:
        return None if raw.strip().lower() in ("", "none", "off") else parse(raw)

    return inner


def _env(name: str, parse: Callable[[str], Any], default: Any, doc: str, **kw: Any) -> Any:
    return attrs.field(default=default, metadata=_meta(name, parse, doc), **kw)


def _meta(name: str, parse: Callable[[str], Any], doc: str) -> dict[str, Any]:
    return {"env": name, "parse": parse, "doc": doc}


def _finite(attribute: attrs.Attribute[Any], value: object) -> int | float | Decimal:
    """``value`` if it is a finite number; otherwise a :class:`ConfigError` naming the setting."""
    name = attribute.metadata.get("env", attribute.name)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ConfigError(f"{name} ({attribute.name}) must be a number, got {value!r}")
    if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
        raise ConfigError(f"{name} ({attribute.name}) must be a finite number, got {value!r}; "
                          "to switch a limit off use none where the README says none disables")
    return value


def _positive(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not _finite(attribute, value) > 0:
        raise ConfigError(f"{attribute.metadata.get('env', attribute.name)} must be > 0, got {value!r}")


def _non_negative(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not _finite(attribute, value) >= 0:
        raise ConfigError(f"{attribute.metadata.get('env', attribute.name)} must be >= 0, got {value!r}")


def _one_of(*allowed: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value not in allowed:
            raise ConfigError(f"{attribute.metadata.get('env', attribute.name)} must be one of "
                              f"{', '.join(allowed)}, got {value!r}")

    return check


def _to_percents(value: object) -> tuple[int, ...]:
    """Budget alert thresholds: whole percentages in (0, 1000], sorted, without repeats."""
    if value is None:
        return ()
    if isinstance(value, str):
        return _parse_percents(value)
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1000 for v in value):
        raise ConfigError(f"TOGETHER_BUDGET_ALERTS must be whole percentages between 1 and 1000, got {value!r}")
    return tuple(sorted(set(value)))


def _parse_percents(raw: str) -> tuple[int, ...]:
    text = raw.strip().lower()
    if text in ("", "none", "off"):
        return ()
    try:
        values = [int(part.strip().rstrip("%")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"TOGETHER_BUDGET_ALERTS must be a list like 50,80,100, got {raw!r}") from None
    return _to_percents(values)


def _to_models(value: object) -> tuple[str, ...]:
    """``TOGETHER_MODEL_FALLBACKS``: a comma-separated list (or a list of ids) -> a tuple of model ids."""
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        return () if text.lower() in ("", "none", "off") else tuple(p.strip() for p in text.split(",") if p.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise ConfigError(f"TOGETHER_MODEL_FALLBACKS must be model ids separated by commas, got {value!r}")


def _to_secret(value: str | Secret | None) -> Secret | None:
    """The key as a :class:`Secret`: surrounding whitespace stripped, refused (never shown) unless it is
    printable ASCII without spaces, as an HTTP header value needs."""
    if value is None or isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"TOGETHER_API_KEY (api_key) must be a string, got a {type(value).__name__}")
    value = value.strip()
    if not value:
        return None
    bad = next((i for i, ch in enumerate(value) if not ("!" <= ch <= "~")), None)
    if bad is not None:
        what = "a non-ASCII character" if not value[bad].isascii() else "a space or control character"
        raise ConfigError(f"TOGETHER_API_KEY (api_key) contains {what} at position {bad + 1} of {len(value)}; "
                          "copy the key again from https://api.together.ai/settings/api-keys (key not shown)")
    return Secret(value)


def _to_base_url(value: object) -> object:
    """Normalise the base URL: no trailing ``/`` or ``/chat/completions``; Together's own hosts get ``/v1``.

    ``https://api.together.xyz`` and ``.../v1/chat/completions`` would otherwise post to a wrong path.
    Another host (a proxy, a mock) may serve the API at any path, so only the endpoint suffix is removed there.
    """
    if not isinstance(value, str):
        return value
    parts = urlsplit(value.strip())
    path = parts.path.rstrip("/")
    path = path.removesuffix("/chat/completions").rstrip("/")
    if (parts.hostname or "").lower() in TOGETHER_HOSTS:
        if path in ("", "/v1"):
            path = "/v1"
        else:
            raise ConfigError(f"TOGETHER_BASE_URL={value!r} has the path {parts.path!r}; Together serves the "
                              f"API under /v1: use {DEFAULT_BASE_URL!r}")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _to_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        return _parse_decimal(str(value))
    if isinstance(value, float):  # through str so 0.1 stays 0.1
        return Decimal(repr(value))
    raise ConfigError(f"expected a decimal amount, got {value!r}")
