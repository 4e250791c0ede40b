"""The command line of the fake Together server: parse options, serve until interrupted, print the URL first."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from wrapper.testing._fake_server import FakeTogetherServer

__all__ = ["main"]


def _rate(text: str) -> tuple[str, float]:
    """Parse ``kind=p`` (``kind`` may be ``kind:status``)."""
    kind, sep, p = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected kind=probability, got {text!r}")
    return kind, float(p)


def _limit(text: str) -> tuple[int, float]:
    """Parse ``N/W`` (N requests per W seconds)."""
    n, sep, w = text.partition("/")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected N/W, got {text!r}")
    return int(n), float(w)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wrapper.testing", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback IP (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument("--fault-rate", type=_rate, action="append", default=[], metavar="KIND=P",
                        help="fault probability per request, e.g. rate_limit=0.05, server_error:503=0.02")  # fmt: skip
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every chat answer")
    parser.add_argument("--stream-chunks", type=int, default=8, help="content chunks per streamed answer")
    parser.add_argument("--limit", type=_limit, default=None, metavar="N/W", help="enforce N requests per W seconds")
    parser.add_argument("--fault-delay", type=float, default=0.25, help="seconds of latency/stall faults")
    parser.add_argument("--retry-after", type=float, default=0.1, help="seconds hinted by rate_limit faults")
    parser.add_argument("--unavailable", action="append", default=[], metavar="MODEL",
                        help="answer 400 model_not_available for this model id")  # fmt: skip
    parser.add_argument("--served", action="append", default=None, metavar="MODEL",
                        help="list only these models on /models; every other model answers model_not_available")
    parser.add_argument("--models-error", type=int, default=None, metavar="STATUS",
                        help="answer GET /models with this status (e.g. 503) instead of the list")
    return parser


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a fake Together API on loopback, print its base URL on the first line, run until interrupted."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        server = FakeTogetherServer(
            seed=args.seed, fault_rates=dict(args.fault_rate), latency=args.latency, stream_chunks=args.stream_chunks,
            limit=args.limit, unavailable_models=args.unavailable, host=args.host, port=args.port,
            fault_delay=args.fault_delay, retry_after=args.retry_after, served_models=args.served,
            models_error=args.models_error,
        )  # fmt: skip
    except ValueError as exc:
        parser.error(str(exc))
    signal.signal(signal.SIGTERM, _stop)
    with server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    sys.stdout.flush()
