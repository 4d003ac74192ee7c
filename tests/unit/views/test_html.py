"""provisioner.views.html: the HTML sign-off page from a run directory.

Input is the run directory built by tests/fixtures/signoff_run.py: report.json written by the
real RunReport from runner-shaped events, smoke JSONs assembled with the smoke program's own
functions (what is made up there, and why, is in its docstring). The page is parsed back with
the standard library's HTML parser; tests/integration/test_html_report_chromium.py renders it in
a real browser.
"""

from __future__ import annotations

import copy
import json
import re
import statistics
from pathlib import Path

import pytest

from provisioner.errors import UsageError
from provisioner.results.smoke import compare_fleet, host_verdict
from provisioner.results.smoke import read_results as read_smoke
from provisioner.views.html import render_html, write_html
from tests.fixtures.signoff_run import (
    BIOS_MESSAGE,
    FAILED_HOST,
    OK_HOSTS,
    RUN_ID,
    SLOW_GPU,
    SLOW_HOST,
    UNREACHABLE_HOST,
    UNREACHABLE_MESSAGE,
    build_run,
    faulty_smoke_report,
    find,
    parse_elements,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def inputs(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    smoke, problems = read_smoke(run_dir)
    assert problems == []
    return report, smoke


@pytest.fixture(scope="module")
def page(inputs):
    html = render_html(*inputs)
    return html, parse_elements(html)


def test_fixture_is_what_the_cli_writes(inputs):
    """Guard the fixture itself: statuses from RunReport, smoke JSON in the program's schema."""
    report, smoke = inputs
    assert {h: r["status"] for h, r in report["hosts"].items()} == {
        **{h: "ok" for h in [*OK_HOSTS, SLOW_HOST]}, FAILED_HOST: "failed", UNREACHABLE_HOST: "unreachable"}
    assert report["exit_code"] == 1
    assert set(smoke) == {*OK_HOSTS, SLOW_HOST}
    slow = smoke[SLOW_HOST]
    assert slow["schema"] == "autoglm-gpu-smoke/2" and len(slow["gpus"]) == 8
    # The slow GPU passes its own spec floor: only the fleet comparison catches it.
    assert slow["verdict"] == "pass" and slow["gpus"][SLOW_GPU]["sku"] == "H100-SXM5-80GB"


def test_run_summary(page):
    html, elements = page
    assert f"run <span class=\"mono\" id=\"run-id\">{RUN_ID}</span>" in html
    (exit_code,) = find(elements, "td", id="exit-code")
    assert exit_code["text"].split()[0] == "1" and "at least one host failed" in exit_code["text"]
    (verdict,) = find(elements, "div", id="verdict")
    assert "fail" in verdict["attrs"]["class"].split()
    assert "Not ready for sign-off: 1 failed, 1 unreachable, 1 slow (of 6 host(s))" in " ".join(verdict["text"].split())
    summary = " ".join(find(elements, "table", id="run-summary")[0]["text"].split())
    assert "47 min 24 s" in summary and "2025-06-11T09:15:12+00:00" in summary
    assert "ok 253 · changed 56 · failed 1 · unreachable 1 · skipped 94" in summary
    # -e values are not shown (they may be secrets); the names are.
    assert "gpu_smoke_level" in summary and "standard" not in summary.split("gpu_smoke_level")[1][:20]


def test_host_grid_rows_status_and_order(page):
    _, elements = page
    rows = find(elements, "tr", class_="host-row")
    assert [r["attrs"]["data-host"] for r in rows] == [FAILED_HOST, UNREACHABLE_HOST, SLOW_HOST, *OK_HOSTS]
    status = {r["attrs"]["data-host"]: (r["attrs"]["data-status"], r["attrs"]["data-slow"]) for r in rows}
    assert status[FAILED_HOST] == ("failed", "false")
    assert status[UNREACHABLE_HOST] == ("unreachable", "false")
    assert status[SLOW_HOST] == ("ok", "true")
    assert all(status[h] == ("ok", "false") for h in OK_HOSTS)
    ok_row = " ".join(find(elements, "tr", class_="host-row", data_host=OK_HOSTS[0])[0]["text"].split())
    for fact in ("Ubuntu 22.04", "5.15.0-91-generic", "535.183.01", "branch 535", "11.8", "cu118-torch2.7",
                 "torch 2.7.1+cu118", "iommu: PASS", "sriov: PASS", "above_4g: PASS", "pass standard",
                 "8 GPUs: H100-SXM5-80GB", "within 10 %"):
        assert fact in ok_row, fact
    assert ok_row.startswith(f"{OK_HOSTS[0]} ok 61 14 0 0 23")
    assert "5.15.0-91-generic PASS PASS iommu: PASS" in ok_row  # preflight, then the BIOS gate
    slow_row = " ".join(find(elements, "tr", class_="host-row", data_host=SLOW_HOST)[0]["text"].split())
    assert "SLOW bf16 matmul, fp16 matmul" in slow_row


def test_failed_and_unreachable_messages(page):
    html, elements = page
    details = {d["attrs"]["data-host"]: d["text"] for d in find(elements, "tr", class_="detail-row")}
    assert set(details) == {FAILED_HOST, UNREACHABLE_HOST}
    assert BIOS_MESSAGE in details[FAILED_HOST]  # entities decoded back to the exact message
    assert "TASK [bios_check : Stop the host when a mandatory BIOS prerequisite failed" in details[FAILED_HOST]
    assert UNREACHABLE_MESSAGE in details[UNREACHABLE_HOST]
    assert "SR-IOV Support &lt;Enabled&gt; &amp; reboot" in html  # and escaped in the markup


def test_slow_nodes_table_and_charts(page, inputs):
    _, elements = page
    _, smoke = inputs
    slow_rows = find(elements, "tr", data_host=SLOW_HOST)
    table_rows = [r for r in slow_rows if "gpu5" in r["text"]]
    assert {" ".join(r["text"].split()).split(" H100")[0] for r in table_rows} == {
        f"{SLOW_HOST} gpu{SLOW_GPU} GPU-0305c3e1-5b7d-4f0a-9e21-6d8f00030005"}
    assert len(table_rows) == 2  # bf16 and fp16
    charts = find(elements, "figure", class_="chart")
    assert [c["attrs"]["data-figure"] for c in charts] == [
        "matmul_bf16_tflops", "matmul_fp16_tflops", "matmul_tf32_tflops", "memory_bw_gbs", "h2d_gbs", "d2h_gbs"]
    assert {c["attrs"]["data-sku"] for c in charts} == {"H100-SXM5-80GB"}
    bars = find(elements, "g", class_="bar-row")
    assert len(bars) == 6 * 4
    assert [b["attrs"]["data-host"] for b in bars[:4]][0] == SLOW_HOST  # bf16 chart: slowest host first
    slow_bars = [b for b in bars if b["attrs"]["data-slow"] == "true"]
    assert {b["attrs"]["data-host"] for b in slow_bars} == {SLOW_HOST} and len(slow_bars) == 2
    median = statistics.median(g["figures"]["matmul_bf16_tflops"] for s in smoke.values() for g in s["gpus"])
    slow_value = smoke[SLOW_HOST]["gpus"][SLOW_GPU]["figures"]["matmul_bf16_tflops"]
    assert 0.15 < (median - slow_value) / median < 0.17
    bf16_bar = " ".join(slow_bars[0]["text"].split())
    assert bf16_bar.endswith(f"{slow_value:.0f} (−{(median - slow_value) / median * 100:.1f} %) SLOW"), bf16_bar
    bf16 = " ".join(charts[0]["text"].split())
    assert f"median {median:.0f} TFLOP/s" in bf16 and f"slow: {SLOW_HOST}" in bf16


def test_chart_geometry_draws_the_slow_bar_below_the_threshold(page, inputs):
    """Positions in the SVG: the slow host's bar ends left of the dashed threshold, the others
    right of it, and the median line sits at median/axis of the plot width."""
    html, _ = page
    _, smoke = inputs
    svg = html.split('data-figure="matmul_bf16_tflops"')[1].split("</svg>")[0]
    threshold_x = float(re.search(r'class="threshold" x1="([\d.]+)"', svg).group(1))
    median_x = float(re.search(r'class="median" x1="([\d.]+)"', svg).group(1))
    bar_ends = {}
    for host, width in re.findall(r'data-host="([^"]+)".*?class="bar" x="260" y="[\d.]+" width="([\d.]+)"', svg,
                                  flags=re.S):
        bar_ends[host] = 260 + float(width)
    assert bar_ends[SLOW_HOST] < threshold_x < median_x
    assert all(threshold_x < bar_ends[h] <= median_x + 1 for h in OK_HOSTS)
    # axis 0..800 over 550 px (980 - 260 labels - 170 values)
    median = statistics.median(g["figures"]["matmul_bf16_tflops"] for s in smoke.values() for g in s["gpus"])
    assert median_x == pytest.approx(260 + median / 800 * 550, abs=1)
    assert threshold_x == pytest.approx(260 + median * 0.9 / 800 * 550, abs=1)


def test_self_contained_and_escaped(inputs):
    report, smoke = copy.deepcopy(inputs)
    hostile = '<script>alert("x")</script>.example.com'
    report["hosts"][hostile] = {"status": "failed", "ok": 1, "changed": 0, "failed": 1, "unreachable": 0,
                                "skipped": 0, "rescued": 0, "ignored": 0, "facts": {},
                                "failures": [{"task": "x : <b>bold</b>", "kind": "failed",
                                              "message": "<img src=x onerror=alert(1)> & more"}]}
    smoke[hostile] = copy.deepcopy(smoke[OK_HOSTS[0]])
    html = render_html(report, smoke)
    assert "<script" not in html and "<img" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;.example.com" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; more" in html
    elements = parse_elements(html)
    # Nothing is fetched: no src/href attributes, no CSS url() or @import, and a CSP forbidding it.
    assert not [e for e in elements if {"src", "href"} & set(e["attrs"])]
    assert "url(" not in html and "@import" not in html
    (csp,) = find(elements, "meta", http_equiv="Content-Security-Policy")
    assert csp["attrs"]["content"].startswith("default-src 'none'")
    assert re.findall(r"https?://[^\s\"'<]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg ")


def test_threshold_is_configurable_and_checked(inputs):
    html = render_html(*inputs, slow_threshold=0.25)
    elements = parse_elements(html)
    assert not [b for b in find(elements, "g", class_="bar-row") if b["attrs"]["data-slow"] == "true"]
    assert find(elements, "p", id="no-slow-nodes")
    legend = " ".join(find(elements, "div", class_="legend")[0]["text"].split())
    assert "slow threshold (−25 %)" in legend
    for bad in (0, 1, 10, -0.1):
        with pytest.raises(UsageError, match="allowed a fraction between 0 and 1"):
            render_html(*inputs, slow_threshold=bad)


def test_all_ok_quick_run_is_signed_off_without_charts(inputs):
    report, smoke = copy.deepcopy(inputs)
    report["hosts"] = {h: r for h, r in report["hosts"].items() if h in OK_HOSTS}
    report["exit_code"] = 0
    quick = {h: {**s, "level": "quick", "gpus": [{**g, "figures": {}} for g in s["gpus"]]}
             for h, s in smoke.items() if h in OK_HOSTS}
    report["fleet"] = compare_fleet(quick)  # what such a run records: no figures, nothing compared
    elements = parse_elements(render_html(report, quick))
    (verdict,) = find(elements, "div", id="verdict")
    assert "pass" in verdict["attrs"]["class"].split()
    assert "Ready for sign-off: all 3 host(s) ok" in " ".join(verdict["text"].split())
    assert find(elements, "p", id="no-smoke") and not find(elements, "figure")


def test_small_sku_group_and_not_run_hosts(inputs):
    report, smoke = copy.deepcopy(inputs)
    a100 = {"verdict": "pass", "level": "standard", "gpus": [
        {"index": 0, "name": "NVIDIA A100-SXM4-80GB", "sku": "A100-SXM4-80GB", "uuid": "GPU-a",
         "figures": {"matmul_bf16_tflops": 251.0}}]}
    smoke["gpu-c01.dc1.example.com"] = a100
    report["hosts"]["gpu-c02.dc1.example.com"] = {
        "status": "not_run", "ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0, "rescued": 0,
        "ignored": 0, "failures": [], "facts": {}}
    elements = parse_elements(render_html(report, smoke))
    (a100_chart,) = find(elements, "figure", data_figure="matmul_bf16_tflops", data_sku="A100-SXM4-80GB")
    assert "not compared: only 1 GPU(s) of A100-SXM4-80GB in this run (need 3)" in a100_chart["text"]
    assert not find(elements, "g", class_="bar-row", data_host="gpu-c01.dc1.example.com", data_slow="true")
    (row,) = find(elements, "tr", class_="host-row", data_host="gpu-c02.dc1.example.com")
    assert row["attrs"]["data-status"] == "not_run"
    (verdict,) = find(elements, "div", id="verdict")
    assert "1 not run" in verdict["text"]


def test_write_html_paths_and_unreadable_smoke(run_dir, tmp_path):
    default = write_html(run_dir)
    assert default == run_dir / "report.html" and default.read_text().startswith("<!DOCTYPE html>")
    out = write_html(run_dir, tmp_path / "signoff" / "rack-a.html", slow_threshold=0.05)
    assert out.is_file() and "slow threshold (&minus;5 %)" in out.read_text()
    assert write_html(run_dir, tmp_path) == tmp_path / "report.html"
    broken = tmp_path / "broken-run"
    (broken / "smoke").mkdir(parents=True)
    (broken / "report.json").write_text((run_dir / "report.json").read_text())
    (broken / "smoke" / "gpu-a01.dc1.example.com.json").write_text("{truncated")
    html = write_html(broken).read_text()
    assert "smoke/gpu-a01.dc1.example.com.json unreadable, left out of the charts" in html
    assert not list(broken.glob(".*.tmp"))


def test_preflight_failure_and_lowered_thresholds(inputs):
    report, smoke = copy.deepcopy(inputs)
    report["hosts"][OK_HOSTS[0]]["facts"]["preflight"] = {
        "qualified": False, "failures": ["RAM: measured 16.0 GB, minimum 32 GB"], "warnings": [
            "thresholds lowered below the product's requirements (lab settings): disk_gb_minimum: 200 -> 50"],
        "thresholds_lowered": ["disk_gb_minimum: 200 -> 50"], "checks": []}
    elements = parse_elements(render_html(report, smoke))
    row = " ".join(find(elements, "tr", class_="host-row", data_host=OK_HOSTS[0])[0]["text"].split())
    assert "FAIL thresholds lowered RAM: measured 16.0 GB, minimum 32 GB" in row
    (detail,) = find(elements, "tr", class_="detail-row", data_host=OK_HOSTS[0])
    assert "preflight: thresholds lowered below the product's requirements" in detail["text"]


def test_smoke_codes_in_the_grid_and_the_detail_row(inputs):
    """A host failed by its smoke test: its codes under the GPU smoke verdict, and a row per failed or
    warned check with severity and next step; from report.json, or from the smoke JSON for a run
    recorded before the codes were."""
    report, smoke = copy.deepcopy(inputs)
    host = OK_HOSTS[0]
    smoke[host] = faulty_smoke_report(host)
    for recorded in (True, False):
        if recorded:
            report["hosts"][host]["smoke"] = host_verdict(smoke[host])
        else:
            report["hosts"][host].pop("smoke", None)
        elements = parse_elements(render_html(report, smoke))
        (row,) = find(elements, "tr", class_="host-row", data_host=host)
        assert [e["text"] for e in find(elements, "div", class_="smoke-code")] == ["GPU_H2D_LOW", "GPU_PERSISTENCE_OFF"]
        assert "GPU_H2D_LOW" in row["text"]
        findings = find(elements, "tr", class_="finding")
        assert [(f["attrs"]["data-code"], f["attrs"]["data-severity"]) for f in findings] == [
            ("GPU_H2D_LOW", "degraded"), ("GPU_PERSISTENCE_OFF", "degraded")]
        first = " ".join(findings[0]["text"].split())
        assert first.startswith("fail GPU_H2D_LOW degraded gpu0 h2d_gbs 44% of spec peak")
        assert "re-run the smoke test" in first
        (detail,) = find(elements, "tr", class_="detail-row", data_host=host)
        assert "GPU_PERSISTENCE_OFF" in detail["text"]


def test_hidden_characters_in_host_names_and_messages_are_shown_escaped(inputs):
    """An RTL override or a zero-width character in a host name or a task message is escaped on the page
    as on the console (issue #29 item 10): the page must not reorder or hide what is signed off."""
    report, smoke = copy.deepcopy(inputs)
    hostile = "gpu\u202e10\u200b"
    report["hosts"][hostile] = report["hosts"].pop(FAILED_HOST)
    for failure in report["hosts"][hostile].get("failures", []):
        failure["message"] = "disk \u202efull\u200b"
    html = render_html(report, smoke)
    assert "\u202e" not in html and "\u200b" not in html
    assert "gpu\\u202e10\\u200b" in html
