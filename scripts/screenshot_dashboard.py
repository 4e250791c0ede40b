"""Write docs/dashboard.png: a dashboard rendered from synthetic demo rows, screenshotted by headless Chromium.

Usage: .venv/bin/python scripts/screenshot_dashboard.py [--out docs/dashboard.png] [--html path.html]
Installs Chromium through scripts/ensure_chromium.sh when it is missing. The rows are made up
(seeded, so the picture is the same every run); no API key or message content is involved.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wrapper._observe._dashboard import DashboardRow, write_dashboard  # noqa: E402

# (model, $ per 1M tokens, typical latency ms, share of traffic)
MODELS = (
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", Decimal("0.88"), 1400.0, 0.40),
    ("Qwen/Qwen2.5-72B-Instruct-Turbo", Decimal("1.20"), 1700.0, 0.25),
    ("deepseek-ai/DeepSeek-V3", Decimal("1.25"), 2600.0, 0.15),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", Decimal("0.18"), 450.0, 0.20),
)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def demo_rows(seed: int = 7, days: int = 10, end: datetime | None = None) -> list[DashboardRow]:
    """A week and a half of plausible traffic: several models, retries, errors, uncertain charges, in-flight work."""
    rng = random.Random(seed)
    end = end or datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    start, rows = end - timedelta(days=days), []
    for n in range(days * 150):
        when = start + timedelta(seconds=rng.uniform(0, days * 86400))
        model, price, base_ms, _ = rng.choices(MODELS, weights=[m[3] for m in MODELS])[0]
        busy = 1.0 + 0.8 * (when.weekday() < 5)  # weekdays are busier and slower
        attempts = 1 + (rng.random() < 0.035 * busy) + (rng.random() < 0.01 * busy)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            outcome = rng.choices(["ok", "error", "uncertain"], weights=[96.5, 2.3, 1.2])[0] if last else "error"
            tokens_in, tokens_out = rng.randint(200, 3000), rng.randint(50, 900) if outcome == "ok" else 0
            cost = (price * (tokens_in + tokens_out) / 1_000_000).quantize(Decimal("0.000001"))
            latency = rng.lognormvariate(0, 0.35) * base_ms * busy ** 0.5
            rows.append(DashboardRow(
                time=when + timedelta(seconds=attempt * 2), run_id=f"run-{when:%m%d}", request_id=f"req-{n:05d}",
                model=model, prompt_tokens=tokens_in if outcome != "error" else None,
                completion_tokens=tokens_out if outcome == "ok" else None,
                cost=cost if outcome != "error" else None, outcome=outcome,
                latency_ms=latency if outcome == "ok" else latency * 2.5, attempt=attempt,
                status=200 if outcome == "ok" else rng.choice([429, 500, 503]),
            ))
    rows += [DashboardRow(time=end, run_id="run-live", request_id=f"live-{i}", model=MODELS[0][0], prompt_tokens=None,
                          completion_tokens=None, cost=Decimal("0.05"), outcome="reserved", latency_ms=None)
             for i in range(3)]
    return rows


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 1330) -> None:
    """Render ``html`` in headless Chromium and save a ``width`` x ``height`` PNG to ``png``."""
    chromium = subprocess.run(["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={png.resolve()}", html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    """Render the demo dashboard and write its screenshot; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png", help="PNG to write")
    parser.add_argument("--html", type=Path, default=None, help="also keep the rendered HTML here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dashboard-") as tmp:
        page = args.html or Path(tmp) / "dashboard.html"
        write_dashboard(page, demo_rows(), title="Together usage · demo data", budget_limit=Decimal("4"),
                        generated_at=datetime(2026, 11, 27, 18, 5, tzinfo=UTC))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
