"""The HTML sign-off report, written by the real CLI (`report RUN --html`) and rendered by a real
headless Chromium (Debian's `chromium`, installed by scripts/install-deps.sh --test).

Input: the run directory of tests/fixtures/signoff_run.py (six H100 hosts: three ok, one slow,
one failed at the BIOS gate, one unreachable; what is made up there is said in its docstring).
Checks: the DOM as Chromium built it (grid rows, the failed host's message, the slow highlight),
and the pixels of a screenshot (the slow bar is drawn in the slow colour, long and left of the
others; the failed host's red marker is there). Chromium runs with networking cut off, so the
page must render from itself alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.signoff_run import (
    BIOS_MESSAGE,
    FAILED_HOST,
    OK_HOSTS,
    SLOW_HOST,
    UNREACHABLE_HOST,
    UNREACHABLE_MESSAGE,
    build_run,
    find,
    parse_elements,
)

REPO = Path(__file__).resolve().parents[2]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium missing (scripts/install-deps.sh --test installs it)"),
]
SLOW_RGB = (0xBC, 0x4C, 0x00)  # --slow in the template
FAIL_RGB = (0xCF, 0x22, 0x2E)  # --fail
OK_BAR_RGB = (0x54, 0xAE, 0xFF)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "HOME": str(tmp_path)})


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    """report.html written by `autoglm-provision report latest --html PATH`."""
    state = tmp_path_factory.mktemp("state")
    build_run(state / "runs")
    out = state / "signoff" / "rack-dc1.html"
    result = subprocess.run([sys.executable, "-m", "provisioner.cli", "report", "latest", "--html", str(out),
                             "--plain"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "AUTOGLM_PROVISION_STATE": str(state)})
    assert result.returncode == 1, result.stdout + result.stderr  # the run's own exit code: a host failed
    assert f"HTML report: {out}" in result.stdout
    return out


def test_dom_as_chromium_builds_it(report_html, tmp_path):
    result = chromium(tmp_path, "--dump-dom", report_html.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    elements = parse_elements(result.stdout)
    rows = find(elements, "tr", class_="host-row")
    assert [r["attrs"]["data-host"] for r in rows] == [FAILED_HOST, UNREACHABLE_HOST, SLOW_HOST, *OK_HOSTS]
    assert [r["attrs"]["data-status"] for r in rows] == ["failed", "unreachable", "ok", "ok", "ok", "ok"]
    details = {d["attrs"]["data-host"]: d["text"] for d in find(elements, "tr", class_="detail-row")}
    assert BIOS_MESSAGE in details[FAILED_HOST] and UNREACHABLE_MESSAGE in details[UNREACHABLE_HOST]
    slow_bars = find(elements, "g", class_="slow", data_host=SLOW_HOST)
    assert len(slow_bars) == 2 and all(b["attrs"]["data-slow"] == "true" for b in slow_bars)
    assert [r for r in find(elements, "tr", data_host=SLOW_HOST) if "gpu5" in r["text"]]
    (verdict,) = find(elements, "div", id="verdict")
    assert "Not ready for sign-off: 1 failed, 1 unreachable, 1 slow" in " ".join(verdict["text"].split())


def test_screenshot_shows_the_slow_bar_and_the_failed_host(report_html, tmp_path):
    from PIL import Image

    png = tmp_path / "report.png"
    result = chromium(tmp_path, "--hide-scrollbars", f"--screenshot={png}", "--window-size=1400,2000",
                      report_html.as_uri())
    assert result.returncode == 0 and png.is_file(), result.stderr[-2000:]
    if artifacts := os.environ.get("AUTOGLM_TEST_ARTIFACTS"):  # keep it to look at
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(artifacts) / "html-report.png")
    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 2000)
    width, height = image.size
    pixels = image.load()

    def runs(rgb: tuple[int, int, int]) -> list[tuple[int, int, int]]:
        """Horizontal runs (y, x_start, length) of exactly this colour, 40 px or longer."""
        found = []
        for y in range(height):
            x = 0
            while x < width:
                if pixels[x, y] == rgb:
                    start = x
                    while x < width and pixels[x, y] == rgb:
                        x += 1
                    if x - start >= 40:
                        found.append((y, start, x - start))
                else:
                    x += 1
        return found

    slow = runs(SLOW_RGB)
    ok_bars = runs(OK_BAR_RGB)
    assert slow, "no slow-coloured bar drawn"
    assert ok_bars, "no regular bar drawn"
    # Drawn to scale: the bf16 chart (the first, the slowest bar on it) runs 0..800 TFLOP/s over
    # 550 px; the slow host's bar is its slowest GPU, the longest regular bar the best host's.
    smoke = {p.stem: json.loads(p.read_text()) for p in (report_html.parent.parent / "runs").glob("*/smoke/*.json")}
    worst = {h: min(g["figures"]["matmul_bf16_tflops"] for g in s["gpus"]) for h, s in smoke.items()}
    slow_start, slow_len = slow[0][1], slow[0][2]
    slow_y = slow[0][0]  # slowest first: the three ok hosts' bars sit in the three 20 px rows below it
    ok_len = max(r[2] for r in ok_bars if r[1] == slow_start and slow_y < r[0] < slow_y + 70)
    assert slow_len == pytest.approx(worst[SLOW_HOST] / 800 * 550, abs=2), slow_len
    assert ok_len == pytest.approx(max(v for h, v in worst.items() if h != SLOW_HOST) / 800 * 550, abs=2), ok_len
    # The failed host's row carries the red marker (4 px border) and its message box.
    red_rows = {y for y in range(height) for x in range(0, 80) if pixels[x, y] == FAIL_RGB}
    assert len(red_rows) > 20
