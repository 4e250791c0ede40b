"""Test tooling shipped with the SDK: a fault-injecting fake Together server on a loopback socket.

It lives in the package (not under ``tests/``) because the CLI ``demo`` command and the benchmarks embed it.
Importing it pulls in aiohttp; ``import wrapper`` never imports this package.

Example::

    from wrapper.testing import FakeTogetherServer

    with FakeTogetherServer(seed=1, fault_rates={"rate_limit": 0.1}) as server:
        server.script("server_error:503", "ok")
        ...  # point a client at server.url ("http://127.0.0.1:PORT/v1") with any non-empty API key
        assert server.max_in_window(1.0) <= 10
"""

from wrapper.testing._fake_batches import FakeBatches
from wrapper.testing._fake_cli import main
from wrapper.testing._fake_faults import FAULT_KINDS, FakeStats, Fault, FaultKind, RequestRecord
from wrapper.testing._fake_jobs import BatchTiming
from wrapper.testing._fake_server import FakeTogetherServer

__all__ = ["FAULT_KINDS", "BatchTiming", "FakeBatches", "FakeStats", "FakeTogetherServer", "Fault", "FaultKind",
           "RequestRecord", "main"]
