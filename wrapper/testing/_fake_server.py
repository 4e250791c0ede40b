"""A fault-injecting fake Together server on a loopback socket (aiohttp.web), for tests, the demo and benchmarks.

It speaks ``POST /v1/chat/completions`` (JSON and SSE), ``GET /v1/models`` and the Batch API (files and batch
jobs, see ``_fake_batches``; all also without ``/v1``) in Together's real shapes, checks the bearer header,
and injects the faults described in ``_fake_faults``.
Checks run in this order: arrival is recorded → auth (401) → body (400) → unavailable model (400) →
server-side limit (429) → the scripted/random fault → the answer; a request refused by a check consumes no
scripted fault and no random draw.
It runs either in a background thread with its own loop (``start``/``stop``, ``with``) or inside a running
loop (``astart``/``astop``, ``async with``). It never binds anything but a loopback address.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

from aiohttp import web

from wrapper.testing._fake_batches import FakeBatches
from wrapper.testing._fake_bodies import UsageProfile
from wrapper.testing._fake_catalog import FakeCatalog
from wrapper.testing._fake_faults import FakeStats, Fault, FaultPicker, WindowCounter
from wrapper.testing._fake_handlers import Handlers

__all__ = ["FakeTogetherServer"]


class FakeTogetherServer:
    """A loopback fake of Together's chat API with scripted and seeded-random faults.

    Args:
        seed: seeds the random fault draws: the n-th request to reach the fault step gets the n-th draw, so the
            same seed and the same request order give the same faults (concurrent clients decide that order).
        fault_rates: probability per request of each fault, keyed ``"kind"`` or ``"kind:status"``; sum <= 1.
        latency: seconds added before every chat answer.
        stream_chunks: content chunks per streamed answer (a final usage chunk and ``[DONE]`` follow).
        limit: ``(N, W)``: answer 429 once N requests were admitted in the last W seconds, like Together.
        unavailable_models: model ids answered with 400 ``model_not_available`` (compared case-insensitively).
        served_models: when given, ``GET /models`` lists only these (the built-in five keep their prices, others
            cost $0.60 per 1M tokens) and every other chat model answers ``model_not_available``.
        retire_after: ``{model: n}``: the model answers n chat requests, then ``model_not_available`` (retired
            mid-run); :meth:`retire` does it at once.
        models_error: answer ``GET /models`` with this status (e.g. 503) instead of the list.
        host: a loopback IP literal (``127.0.0.1`` or ``::1``); anything else raises ValueError.
        port: 0 picks a free port.
        fault_delay: seconds of delay/stall for faults given by name (``script("latency")``, ``fault_rates``);
            stream faults given by name strike after ``stream_chunks // 2`` chunks.
        retry_after: the hint, in seconds, of ``rate_limit`` faults that do not set their own.
        usage: how prompt tokens are counted in ``usage``: ``"chars"`` (one per 4 characters) or ``"qwen"``
            (like Qwen2.5's tokenizer: prose about 4.7 characters per token, one per digit, one per CJK character,
            plus chat-template tokens and a default system prompt when the request has none).
        batches: the Batch API's state (files, jobs, timing); pass the previous server's ``batches`` to a new
            server on the same port to simulate a restart mid-job. Default: a fresh one.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        fault_rates: Mapping[str, float] | None = None,
        latency: float = 0.0,
        stream_chunks: int = 8,
        limit: tuple[int, float] | None = None,
        unavailable_models: Iterable[str] = (),
        served_models: Iterable[str] | None = None,
        retire_after: Mapping[str, int] | None = None,
        models_error: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        fault_delay: float = 0.25,
        retry_after: float = 0.1,
        batches: FakeBatches | None = None,
        usage: UsageProfile = "chars",
    ) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the fake server binds loopback IP addresses only, not {host!r}")
        if stream_chunks < 1:
            raise ValueError("stream_chunks must be >= 1")
        self._host, self._bind_port, self._port = host, port, port
        self._fault_delay, self._after = fault_delay, stream_chunks // 2
        rates = {self._named(spec): p for spec, p in (fault_rates or {}).items()}
        self._faults = FaultPicker(rates, seed)
        self._window = WindowCounter(limit)
        self._stats = FakeStats()
        self.catalog = FakeCatalog(served=served_models, unavailable=unavailable_models, retire_after=retire_after,
                                   models_error=models_error)
        self._handlers = Handlers(
            faults=self._faults, window=self._window, stats=self._stats, latency=latency, chunks=stream_chunks,
            retry_after=retry_after, catalog=self.catalog, usage=usage,
        )  # fmt: skip
        self.batches = batches if batches is not None else FakeBatches()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ----------------------------------------------------------------- public surface
    def _named(self, spec: str) -> Fault:
        return Fault.parse(spec, delay=self._fault_delay, after_chunks=self._after)

    def script(self, *faults: Fault | str) -> None:
        """Queue faults for the next chat requests, in order (``"ok"`` = no fault, ``"kind:status"`` allowed)."""
        self._faults.script([f if isinstance(f, Fault) else self._named(f) for f in faults])

    def retire(self, model: str) -> None:
        """From now on chat requests for ``model`` answer 400 ``model_not_available``."""
        self.catalog.retire(model)

    @property
    def url(self) -> str:
        """The base URL for a client, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._runner is None:
            raise RuntimeError("the fake server is not running")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/v1"

    @property
    def stats(self) -> FakeStats:
        """The live tally of requests, faults, statuses and ids."""
        return self._stats

    @property
    def arrivals(self) -> list[float]:
        """``time.monotonic()`` arrival times of every chat request so far."""
        return list(self._window.arrivals)

    def max_in_window(self, window: float) -> int:
        """The most chat requests that arrived within any sliding window of ``window`` seconds."""
        return self._window.max_in_window(window)

    def clear(self) -> None:
        """Forget stats, arrivals and unused scripted faults (the random generator keeps its state)."""
        self._stats.clear()
        self._window.clear()
        self._faults.clear()

    # ----------------------------------------------------------------- lifecycle
    async def astart(self) -> FakeTogetherServer:
        """Start serving inside the running event loop."""
        if self._runner is not None:
            raise RuntimeError("the fake server is already running")
        app = web.Application()
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._handlers.chat)
            app.router.add_get(f"{prefix}/models", self._handlers.models)
            self.batches.routes(app, prefix, Handlers.authorized)
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._bind_port))
        except OSError:
            sock.close()
            raise
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await runner.setup()
        await web.SockSite(runner, sock, backlog=1024).start()
        self._port, self._runner = sock.getsockname()[1], runner
        return self

    async def astop(self) -> None:
        """Stop serving (in-flight answers get 0.25 s, then are cancelled)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTogetherServer:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    def start(self) -> FakeTogetherServer:
        """Start serving in a background thread with its own event loop; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("the fake server is already running")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-together", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            self._thread.join()
            self._thread = None
            raise
        return self

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.astart())
        except BaseException as exc:
            ready.set_exception(exc)
        else:
            ready.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self.astop())
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        """Stop the background thread started by ``start`` (a no-op when it is not running)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._thread = self._loop = None

    def __enter__(self) -> FakeTogetherServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
