"""What the two clients share: settings, the runtime, the generated client and its httpx options.

Kept apart from the shells so that the async shell (``_async/_client.py``) and the sync one generated from it
differ only in ``await`` and names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from together_api_client.client import Client as GeneratedClient

from .._errors import ConfigError
from .._observe._events import EventHook
from .._observe._metrics import ClientMetrics
from .._redact import register_secret
from .._settings import Settings
from .._version import __version__
from ._runtime import Runtime

if TYPE_CHECKING:
    from .._ledger import Ledger

__all__ = ["USER_AGENT", "BaseClient", "check_base_url"]

USER_AGENT = f"together-wrapper/{__version__} (python; httpx {httpx.__version__})"


def check_base_url(url: str) -> None:
    """Refuse to send the key in clear text: ``http://`` is allowed for loopback hosts only."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if parts.scheme != "http" or not loopback:
        raise ConfigError(
            f"TOGETHER_BASE_URL={url!r} would send the API key unencrypted; use https:// "
            "(plain http:// is allowed only for 127.0.0.1, ::1 or localhost)"
        )


class BaseClient:
    """State shared by :class:`wrapper.Client` and :class:`wrapper.AsyncClient`."""

    def __init__(
        self,
        settings: Settings | None,
        overrides: dict[str, Any],
        *,
        on_event: EventHook | None,
        runtime: Runtime | None,
        runtime_options: Mapping[str, Any],
    ) -> None:
        if settings is None:
            settings = Settings.from_env(**overrides)
        elif overrides:
            settings = settings.evolve(**overrides)
        key = settings.require_api_key()
        check_base_url(settings.base_url)
        register_secret(key)
        self._settings = settings
        self._owns_runtime = runtime is None
        self._rt = runtime if runtime is not None else Runtime(settings, on_event=on_event, **runtime_options)

    def _generated(self) -> GeneratedClient:
        """The generated client (no retries of its own: ours is the only retry layer)."""
        s = self._settings
        return GeneratedClient(base_url=s.base_url, raise_on_unexpected_status=False)

    def _httpx_options(self, transport: Any, hooks: Mapping[str, list[Any]]) -> dict[str, Any]:
        """The keyword arguments of the httpx client both shells build for the generated client.

        The key travels as a default header (httpx masks it in reprs); the hooks apply each attempt's timeouts
        and extra headers, and remember the attempt's response (see ``_transport``).
        """
        s = self._settings
        assert s.api_key is not None  # checked in __init__
        options = {
            "base_url": s.base_url,
            "headers": {"User-Agent": USER_AGENT, "Authorization": f"Bearer {s.api_key.get()}"},
            "timeout": httpx.Timeout(s.timeout, connect=min(s.connect_timeout, s.timeout)),
            "limits": httpx.Limits(max_connections=s.max_connections,
                                   max_keepalive_connections=s.max_keepalive_connections),
            "follow_redirects": False,
            "event_hooks": {name: list(fns) for name, fns in hooks.items()},
        }
        if transport is not None:  # else httpx builds its own, honouring proxy and CA settings from the environment
            options["transport"] = transport
        return options

    @property
    def settings(self) -> Settings:
        """The frozen settings this client was built with."""
        return self._settings

    @property
    def run_id(self) -> str:
        """The budget run this client charges to."""
        return self._rt.run_id

    @property
    def metrics(self) -> ClientMetrics:
        """This client's metrics (its own Prometheus registry; ``metrics.snapshot()`` for plain values)."""
        return self._rt.metrics

    @property
    def ledger(self) -> Ledger:
        """The cost ledger and budget of this client's run."""
        return self._rt.ledger

    @property
    def breaker_states(self) -> dict[str, str]:
        """Each model's breaker state: ``closed``, ``open`` or ``half_open``."""
        return self._rt.breakers.states()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._settings.base_url!r}, model={self._settings.model!r})"
