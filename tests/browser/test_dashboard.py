"""The dashboard in real headless Chromium: scripts run without errors, every chart draws data, the page is visible.

Chromium is Debian's (``scripts/ensure_chromium.sh`` installs it). Without it these tests skip,
except under CI, where the install script is run and a still-missing browser is a failure.
The page reports on itself: an early ``window.onerror`` writes errors onto ``<html>``, and
``#status`` gets ``data-ok``/``data-charts`` once drawing finished; ``--dump-dom`` reads both.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from wrapper._observe._dashboard import DashboardRow, render_dashboard

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
CHARTS = ("budget", "cost_time", "cost_model", "tokens", "outcomes", "retries", "latency")
GENERATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of the chromium binary; skip without it, but under CI install it or fail."""
    found = shutil.which("chromium")
    if found is None and os.environ.get("CI"):
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], check=False, timeout=900)
        found = shutil.which("chromium")
        if found is None:
            pytest.fail("chromium is required under CI: scripts/ensure_chromium.sh could not install it")
    if found is None:
        pytest.skip("headless Chromium not installed (bash scripts/ensure_chromium.sh)")
    return found


RunChromium = Callable[..., str]


@pytest.fixture
def run_chromium(chromium: str, tmp_path: Path) -> RunChromium:
    """A function running Chromium on a page with a fresh profile and extra flags; it returns stdout."""
    counter = iter(range(1_000))

    def run(page: Path, *extra: str) -> str:
        profile = tmp_path / f"profile-{next(counter)}"
        done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    return run


def synthetic_rows(days: int, per_day: int, step: timedelta = timedelta(days=1)) -> list[DashboardRow]:
    """Seeded rows over several models and periods, with every outcome, retries and in-flight reservations."""
    rng = random.Random(11)
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    models = ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen2.5-72B-Instruct-Turbo", "deepseek-ai/DeepSeek-V3")
    rows = []
    for d in range(days):
        for i in range(per_day):
            outcome = ("ok", "ok", "ok", "error", "uncertain")[i % 5]
            rows.append(DashboardRow(
                time=start + d * step + timedelta(minutes=i), run_id=f"run-{d}", request_id=f"req-{d}-{i}",
                model=models[i % 3], prompt_tokens=rng.randint(100, 900), completion_tokens=rng.randint(10, 300),
                cost=Decimal(rng.randint(10, 900)) / 10_000 if outcome != "error" else None, outcome=outcome,
                latency_ms=rng.uniform(200, 3000), attempt=1 + (i % 7 == 0), status=200 if outcome == "ok" else 500))
    rows.append(DashboardRow(time=start, run_id="run-x", request_id="live", model=models[0], prompt_tokens=None,
                             completion_tokens=None, cost=Decimal("0.2"), outcome="reserved", latency_ms=None))
    return rows


class DomReport(HTMLParser):
    """Reads a dumped DOM: data marks per chart figure, the status element, recorded errors."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.marks = dict.fromkeys(CHARTS, 0)
        self.empty = dict.fromkeys(CHARTS, 0)
        self.status: dict[str, str | None] = {}
        self.root: dict[str, str | None] = {}
        self.errors, self.per = 0, set[str]()
        self._figure: str | None = None
        self._in_errors = self._in_per = False
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "html":
            self.root = a
        elif tag == "figure":
            self._figure = a.get("id")
        elif a.get("id") == "status":
            self.status = a
        elif a.get("id") == "errors":
            self._in_errors = True
        elif tag == "li" and self._in_errors:
            self.errors += 1
        self._in_per = "per" in classes
        if self._figure in self.marks and "mark" in classes:
            self.marks[self._figure] += 1
        if self._figure in self.empty and "empty" in classes:
            self.empty[self._figure] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        elif tag == "ul":
            self._in_errors = False

    def handle_data(self, data: str) -> None:
        if self._in_per:
            self.per.add(data)
            self._in_per = False


def dom_report(run_chromium: RunChromium, tmp_path: Path, page: str) -> DomReport:
    """Write ``page``, let Chromium run its scripts, and read the resulting DOM."""
    path = tmp_path / "dashboard.html"
    path.write_text(page, encoding="utf-8")
    return DomReport(run_chromium(path, "--dump-dom"))


@pytest.mark.parametrize(("days", "step", "unit"), [(6, timedelta(days=1), "day"), (8, timedelta(hours=3), "hour")])
def test_every_chart_draws_data_without_script_errors(
    run_chromium: RunChromium, tmp_path: Path, days: int, step: timedelta, unit: str
) -> None:
    """Daily and hourly dashboards load without script errors and each of the seven charts holds data marks."""
    page = render_dashboard(synthetic_rows(days, 25, step), title="Browser check", budget_limit=Decimal("10"),
                            generated_at=GENERATED)
    report = dom_report(run_chromium, tmp_path, page)
    assert ("1", str(len(CHARTS))) == (report.status.get("data-ok"), report.status.get("data-charts"))
    assert (report.root.get("data-js-errors"), report.errors) == (None, 0)
    assert {chart: 0 for chart in CHARTS} == {chart: count for chart, count in report.empty.items()}
    assert all(count > 0 for count in report.marks.values()), report.marks
    assert {unit} == report.per


def test_empty_ledger_shows_placeholders(run_chromium: RunChromium, tmp_path: Path) -> None:
    """With no rows every chart draws a "No data yet" placeholder and no data marks, still without errors."""
    report = dom_report(run_chromium, tmp_path, render_dashboard([], title="Empty", budget_limit=None,
                                                                 generated_at=GENERATED))
    assert report.status.get("data-ok") == "1"
    assert dict.fromkeys(CHARTS, 1) == report.empty
    assert dict.fromkeys(CHARTS, 0) == report.marks


def test_a_script_error_is_caught_by_the_check(run_chromium: RunChromium, tmp_path: Path) -> None:
    """A page whose data cannot be parsed is reported as failed: the check above can fail."""
    page = render_dashboard(synthetic_rows(2, 5), title="Broken", budget_limit=None, generated_at=GENERATED)
    broken = page.replace('<script type="application/json" id="data">{', '<script type="application/json" id="data">{{')
    assert broken != page
    report = dom_report(run_chromium, tmp_path, broken)
    assert report.root.get("data-js-errors") == "1"
    assert report.status.get("data-ok") == "0"
    assert sum(report.marks.values()) == 0


def png_pixels(data: bytes, max_rows: int) -> tuple[int, list[bytes]]:
    """Decode the first ``max_rows`` rows of an 8-bit RGB/RGBA, non-interlaced PNG into raw pixel rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        header, idat = (chunk, idat) if kind == b"IHDR" else (header, idat + chunk if kind == b"IDAT" else idat)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), width * bpp, bytearray(width * bpp), []
    for y in range(min(height, max_rows)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left, up, corner = (line[i - bpp] if i >= bpp else 0), prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        prev = line
    return bpp, rows


def test_screenshot_is_not_blank(run_chromium: RunChromium, tmp_path: Path) -> None:
    """A 1280x1600 screenshot of the dashboard shows many colours and a good share of non-background pixels."""
    path, shot = tmp_path / "dashboard.html", tmp_path / "shot.png"
    path.write_text(render_dashboard(synthetic_rows(6, 25), title="Screenshot", budget_limit=Decimal("10"),
                                     generated_at=GENERATED), encoding="utf-8")
    run_chromium(path, "--window-size=1280,1600", f"--screenshot={shot}")
    assert struct.unpack(">II", shot.read_bytes()[16:24]) == (1280, 1600)
    bpp, rows = png_pixels(shot.read_bytes(), max_rows=700)  # header, tiles, budget bar and the first charts
    pixels = [row[i:i + 3] for row in rows for i in range(0, len(row), bpp * 2)]  # every other pixel
    background = {bytes.fromhex("f3f5f8"), bytes.fromhex("ffffff")}
    inked = sum(px not in background for px in pixels)
    assert len(set(pixels)) >= 50
    assert inked / len(pixels) > 0.02
