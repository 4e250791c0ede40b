"""Shared plumbing of the benchmark scripts: the machine line, the fake server process, medians and tables.

Not a benchmark itself (the leading underscore keeps ``scripts/bench.sh`` from running it).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["FakeServerProcess", "machine_line", "median", "ratio", "render_table"]


def _cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line() -> str:
    """One line describing where the numbers came from: CPU, cores, Python, OS, load at the start."""
    try:
        load = "load average at start {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load average unknown"
    impl = platform.python_implementation()
    return (f"machine: {_cpu_model()}, {os.cpu_count()} cores; {impl} {platform.python_version()}; "
            f"{platform.system()} {platform.release()}; {load}")


class FakeServerProcess:
    """``python -m wrapper.testing`` in a child process (so its CPU is not the client's); loopback only.

    Use as a context manager; ``url`` is the base URL the server printed (``http://127.0.0.1:PORT/v1``).
    """

    def __init__(self, *args: str) -> None:
        self._args = ["--host", "127.0.0.1", "--port", "0", *args]
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeServerProcess:
        proc = subprocess.Popen([sys.executable, "-m", "wrapper.testing", *self._args],
                                stdout=subprocess.PIPE, text=True)
        self._proc = proc
        assert proc.stdout is not None
        self.url = proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError(f"the fake server did not start (it printed {self.url!r})")
        return self

    @property
    def pid(self) -> int:
        """The server's process id (for reading its CPU time from /proc)."""
        assert self._proc is not None
        return self._proc.pid

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``1.23x``, or ``-`` when either is missing."""
    if not (value == value and base == base) or base <= 0:  # NaN checks
        return "-"
    return f"{value / base:.2f}x"


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, first_width: int = 0) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned, a rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    widths[0] = max(widths[0], first_width)
    lines = []
    for i, row in enumerate([header, *rows]):
        cells = [str(row[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)
