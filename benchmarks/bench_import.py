"""Benchmark (not a test): ``import wrapper`` time vs ``import httpx`` / ``openai`` / ``together``, fresh processes.

Run: ``.venv/bin/python benchmarks/bench_import.py [--runs 15] [--top 12]``.

Each run starts a fresh interpreter (the normal one: site, the venv, no ``-S``/``-I``) per module, interleaved and
in a rotated order, after one warm-up run each. Byte-code caches are on for the children whatever the environment
says (``PYTHONDONTWRITEBYTECODE`` is dropped; the caches go to a temporary ``PYTHONPYCACHEPREFIX``, so the checkout
stays clean): with it set, our own modules and the generated client -- an editable install has no ``.pyc`` from
pip -- would be compiled from source on every import while site-packages use pip's caches. Two figures, medians
over the runs:

* import ms: ``time.perf_counter()`` around the ``import`` statement inside the child -- the import alone;
* process ms: the child's whole wall time seen from here, and the same minus the bare ``python -c pass``
  baseline of the same run (interpreter start-up and exit taken out; exit also tears down what was imported).

The target is ``import wrapper`` <= 1.5x ``import httpx`` (import ms). Then ``python -X importtime -c "import
httpx; import wrapper"`` lists what ``import wrapper`` adds on top of httpx, per top-level package as first
imported (its cumulative time includes the packages it pulls in first), so a miss shows what to make lazy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_util import machine_line, median, ratio, render_table

MODULES = ("httpx", "wrapper", "openai", "together", "aiohttp")
# what each row runs; the wrapper's public names are imported too, so a lazy ``import wrapper`` cannot hide a cost
STATEMENTS = {"from wrapper import Client": "from wrapper import Client",
              "from wrapper import Client, AsyncClient": "from wrapper import Client, AsyncClient"}
TARGET = 1.5
PROBE = "import time; t = time.perf_counter(); {s}; print(time.perf_counter() - t)"
CHILD_ENV: dict[str, str] = {}  # set in main(): byte-code caches on, in a temporary folder


def statement(target: str) -> str:
    """The Python statement a row runs: ``import <module>``, or one of :data:`STATEMENTS`."""
    return STATEMENTS.get(target, f"import {target}")


def run_once(target: str | None) -> tuple[float, float]:
    """One fresh interpreter: (seconds of the import inside it, seconds of the whole process)."""
    code = "pass" if target is None else PROBE.format(s=statement(target))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=CHILD_ENV)
    wall = time.perf_counter() - start
    return (0.0 if target is None else float(out.stdout.strip())), wall


def installed(module: str) -> bool:
    found = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, env=CHILD_ENV)
    return found.returncode == 0


def importtime_over_httpx(module: str, stmt: str | None = None) -> tuple[float, float, list[tuple[str, float]]]:
    """``-X importtime`` of ``import httpx; import <module>``: the module's cumulative µs, the self µs of its own
    submodules, and (package, cumulative µs as first imported) for every top-level package it added."""
    env = {**CHILD_ENV, "PYTHONWARNINGS": "ignore"}
    code = f"import httpx; {stmt or f'import {module}'}"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], check=True,
                         capture_output=True, text=True, env=env).stderr
    total, own, added, after_httpx = 0.0, 0.0, [], False
    for line in out.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if name == "httpx":
            after_httpx = True
        elif not after_httpx:
            continue
        elif name == module:
            total = float(cumulative)
        elif name.startswith(module + "."):
            own += float(self_us)
        elif "." not in name and not name.startswith("_"):
            added.append((name, float(cumulative)))
    return total, own, sorted(added, key=lambda x: -x[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per module (default 15)")
    parser.add_argument("--top", type=int, default=12, help="packages listed from -X importtime (default 12)")
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="bench-import-pycache-") as cache:
        CHILD_ENV.update({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = cache
        measure(args)


def measure(args: argparse.Namespace) -> None:
    """Time every row, print the table, the verdict and what ``import wrapper`` adds over httpx."""
    modules = [m for m in MODULES if installed(m)]
    skipped = sorted(set(MODULES) - set(modules))
    at = modules.index("wrapper") + 1
    modules[at:at] = list(STATEMENTS)  # the client stack loads on first use: report it too
    targets: list[str | None] = [None, *modules]
    imports: dict[str | None, list[float]] = {m: [] for m in targets}
    walls: dict[str | None, list[float]] = {m: [] for m in targets}
    for m in targets:  # warm-up: byte-code caches
        run_once(m)
    for r in range(args.runs):
        k = r % len(targets)
        for m in [*targets[k:], *targets[:k]]:
            inside, wall = run_once(m)
            imports[m].append(inside * 1e3)
            walls[m].append(wall * 1e3)
    base_wall = median(walls[None])
    net = {m: median([w - b for w, b in zip(walls[m], walls[None], strict=True)]) for m in modules}
    rows = [["python -c pass (baseline)", "-", "-", f"{base_wall:.1f}", "-", "-"]]
    for m in modules:
        rows.append([statement(m), f"{median(imports[m]):.1f}", ratio(median(imports[m]), median(imports["httpx"])),
                     f"{median(walls[m]):.1f}", f"{net[m]:.1f}", ratio(net[m], net["httpx"])])
    print(f"\nimport time, median of {args.runs} fresh interpreters each ({sys.executable})"
          + (f"; not installed: {', '.join(skipped)}" if skipped else "") + "\n")
    print(render_table(["statement", "import ms", "x httpx", "process ms", "minus baseline", "x httpx (net)"], rows))
    value = median(imports["wrapper"]) / median(imports["httpx"])
    print(f"\ntarget import: import wrapper <= {TARGET}x import httpx: {value:.2f}x (import ms; "
          f"{net['wrapper'] / net['httpx']:.2f}x by process time minus baseline) -> "
          f"{'met' if value <= TARGET else 'MISSED'}")
    for stmt in STATEMENTS:
        print(f"  (for honesty: {stmt} = {median(imports[stmt]) / median(imports['httpx']):.2f}x import httpx; "
              "it loads the client stack)")
    total, own, added = importtime_over_httpx("wrapper")
    print(f"\n-X importtime of 'import httpx; import wrapper' (one run; the tool's own overhead inflates every "
          f"figure): wrapper {total / 1e3:.1f} ms cumulative, of which its own {own / 1e3:.1f} ms (self time of "
          "wrapper.*) and, per package it added, as first imported:")
    print(render_table(["package", "cumulative ms"], [[p, f"{us / 1e3:.1f}"] for p, us in added[: args.top]]))
    stmt = "from wrapper import Client"
    _, own, added = importtime_over_httpx("wrapper", stmt)
    print(f"\n-X importtime of 'import httpx; {stmt}' (one run): self time of wrapper.* {own / 1e3:.1f} ms; "
          "per package it added, as first imported:")
    print(render_table(["package", "cumulative ms"], [[p, f"{us / 1e3:.1f}"] for p, us in added[: args.top]]))


if __name__ == "__main__":
    main()
