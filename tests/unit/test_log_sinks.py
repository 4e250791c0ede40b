"""Where wrapper's records go once turned on: enable_json_logs and --log-file write each record once, only there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EMIT = """
from wrapper._observe._log import get_logger, log_attempt
log_attempt(get_logger("client"), request_id="r1", model="m", status=200, latency_s=0.1, attempt=1,
            prompt_tokens=1, completion_tokens=1, cost_usd=None, outcome="ok")
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (loguru's default handler installed, as in an application)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)


def test_enable_json_logs_prints_each_record_once() -> None:
    """enable_json_logs(): one JSON line per wrapper record on stderr, and the app's own records still print."""
    code = "import wrapper\nfrom loguru import logger\nwrapper.enable_json_logs()\n" + EMIT + \
        "logger.info('application record')\n"
    lines = _run(code).stderr.splitlines()
    ours = [line for line in lines if "attempt 1 m" in line]
    assert 1 == len(ours)
    assert "r1" == json.loads(ours[0])["record"]["extra"]["request_id"]
    assert 1 == sum("application record" in line for line in lines)


def test_cli_log_file_writes_only_to_the_file(tmp_path: Path) -> None:
    """--log-file sends the SDK's records to that file only, never also to the terminal."""
    target = tmp_path / "sdk.jsonl"
    code = "from pathlib import Path\nfrom wrapper.cli._app import _root\n" + \
        f"_root(log_file=Path({str(target)!r}))\n" + EMIT
    result = _run(code)
    assert "attempt" not in result.stderr + result.stdout
    assert 1 == len(target.read_text().splitlines())
