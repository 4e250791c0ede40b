"""What the two clients share: settings, the runtime, auth, the generated client's options.

Kept apart from the shells so that :mod:`wrapper._pipeline._sync_client` and :mod:`wrapper._pipeline._async_client`
stay mirrors that differ only in ``await`` and the httpx client class.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from together_api_client.api.models import list_models
from together_api_client.client import Client as GeneratedClient
from together_api_client.types import UNSET

from .._errors import APIResponseValidationError, ConfigError, error_from_response
from .._observe._events import EventHook
from .._observe._log import register_secret
from .._observe._metrics import ClientMetrics
from .._settings import Secret, Settings
from .._types import ModelInfo
from .._version import __version__
from ._runtime import Runtime

if TYPE_CHECKING:
    from ._call import Call

__all__ = ["USER_AGENT", "BaseClient", "BearerAuth", "check_base_url", "default_async_transport", "parse_models"]

USER_AGENT = f"together-wrapper/{__version__} (python; httpx {httpx.__version__})"


class BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <key>`` to each request; its repr never shows the key."""

    def __init__(self, key: Secret) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.get()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


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


def default_async_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The async client's transport: aiohttp under httpx's API, several times cheaper per request than httpx's own
    async pool (benchmarks/bench_clients.py)."""
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(limits=limits)


def parse_models(status_code: int, headers: Mapping[str, str], content: bytes) -> list[ModelInfo]:
    """Parse ``GET /models``: a list of typed models, or the typed error for a non-2xx answer."""
    if not 200 <= status_code < 300:
        raise error_from_response(status_code, headers, content)
    try:
        data = json.loads(content)
        items = data.get("data", data) if isinstance(data, dict) else data
        return [ModelInfo.from_dict(item) for item in items]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise APIResponseValidationError(
            f"could not parse the model list ({type(exc).__name__}: {exc})", status_code=status_code,
            body=content[:2000].decode("utf-8", "replace"), request_id=headers.get("x-request-id"),
        ) from exc


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
        self._chat_url = httpx.URL(settings.base_url.rstrip("/") + "/chat/completions")
        self._owns_runtime = runtime is None
        self._rt = runtime if runtime is not None else Runtime(settings, on_event=on_event, **runtime_options)

    def _generated(self, transport: Any) -> GeneratedClient:
        s = self._settings
        assert s.api_key is not None  # checked in __init__
        args: dict[str, Any] = {"auth": BearerAuth(s.api_key), "transport": transport}
        return GeneratedClient(base_url=s.base_url, timeout=self._rt.timeout(), headers={"User-Agent": USER_AGENT},
                               raise_on_unexpected_status=False, httpx_args=args)

    def _limits(self) -> httpx.Limits:
        s = self._settings
        return httpx.Limits(max_connections=s.max_connections, max_keepalive_connections=s.max_keepalive_connections)

    def _json_request(self, call: Call) -> httpx.Request:
        """The attempt's request, built for the transport directly.

        The JSON path skips ``httpx.Client.send`` (cookies, auth flow, redirects, URL merging): it cost more CPU
        than all of our layers together (benchmarks/bench_clients.py). The stream and ``/models`` paths keep it.
        """
        r = call.request
        return httpx.Request(r["method"], self._chat_url, headers=self._json_headers(call), content=r["content"],
                             extensions={"timeout": r["timeout"].as_dict()})

    def _json_headers(self, call: Call) -> dict[str, str]:
        assert self._settings.api_key is not None  # checked in __init__
        return {"User-Agent": USER_AGENT, "Authorization": f"Bearer {self._settings.api_key.get()}",
                **call.request["headers"]}

    @staticmethod
    def _models_request(dedicated: bool | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = list_models._get_kwargs(
            dedicated=dedicated if dedicated is not None else UNSET)
        return kwargs

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
    def ledger(self) -> Any:
        """The cost ledger and budget of this client's run."""
        return self._rt.ledger

    @property
    def breaker_states(self) -> dict[str, str]:
        """Each model's breaker state: ``closed``, ``open`` or ``half_open``."""
        return self._rt.breakers.states()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._settings.base_url!r}, model={self._settings.model!r})"
