"""TOGETHER_TIMEOUT bounds each attempt in total, on both clients, however slowly a server trickles its answer.

A loopback server sends the status line and headers at once, then one byte of the body every 50 ms: each read
finishes well inside any read timeout, so only a total deadline can end the attempt. The server counts the bytes
it managed to send before the client hung up; the whole body would take 6 s.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from wrapper import APITimeoutError, AsyncClient, Client, Settings

BODY_BYTES = 120
TICK_S = 0.05


class TrickleServer:
    """Answers every request with a 200 whose JSON body arrives one byte per tick (never all of it in time)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.sent: list[int] = []  # bytes of body sent per connection before the client went away
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        sent = 0
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n" % BODY_BYTES)
            try:
                for _ in range(BODY_BYTES):
                    if self._stop.wait(TICK_S):
                        break
                    conn.sendall(b" ")
                    sent += 1
            except OSError:
                pass
        self.sent.append(sent)


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer() as server:
        yield server


def _settings(port: int) -> Settings:
    return Settings(api_key="sk-timeout-test", base_url=f"http://127.0.0.1:{port}/v1", ledger_url="memory",
                    rate_limit_rpm=None, max_retries=0, timeout=1.0)


def test_sync_client_cannot_be_held_past_its_timeout(trickle: TrickleServer) -> None:
    """The sync client gives up at TOGETHER_TIMEOUT (1 s): the server got to send a fraction of the body."""
    with Client(_settings(trickle.port)) as client, pytest.raises(APITimeoutError, match="total timeout"):
        client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    _wait_for_hangup(trickle)
    assert trickle.sent[0] < BODY_BYTES // 2  # 1 s of a 6 s body, with room for a slow machine


def test_async_client_cannot_be_held_past_its_timeout(trickle: TrickleServer) -> None:
    """The async client gives up at TOGETHER_TIMEOUT (1 s) too."""

    async def call() -> None:
        async with AsyncClient(_settings(trickle.port)) as client:
            await client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=4)

    with pytest.raises(APITimeoutError, match="total timeout"):
        asyncio.run(call())
    _wait_for_hangup(trickle)
    assert trickle.sent[0] < BODY_BYTES // 2


def _wait_for_hangup(server: TrickleServer) -> None:
    """The server notices the hang-up at its next write; wait (bounded) for it to record the count."""
    for _ in range(100):
        if server.sent:
            return
        threading.Event().wait(TICK_S)
    raise AssertionError("the server never saw the client hang up")
