import json

import pytest

from provisioner.cli import _fleet_view, _normalise_argv, build_parser, parse_batch
from provisioner.errors import UsageError
from provisioner.results.report import RunReport


def test_bare_inventory_means_site_and_flags_parse():
    args = build_parser().parse_args(_normalise_argv(["inv.yml", "-C", "-l", "gpu", "-e", "a=1", "-e", "@x.yml",
                                                      "--batch", "1,10%,100%", "--max-fail-percentage", "5"]))
    assert args.command == "site" and args.check and args.limit == "gpu"
    assert args.extra_vars == ["a=1", "@x.yml"] and args.batch == "1,10%,100%" and args.max_fail_percentage == 5


def test_parse_batch_forms():
    assert parse_batch("1,10%,100%", "--batch") == [1, "10%", "100%"]
    assert parse_batch(5, "autoglm_batch") == [5]
    assert parse_batch(["2", "50%"], "autoglm_batch") == [2, "50%"]
    assert parse_batch(None, "--batch") is None
    for bad in ("0", "0%", "101%", "x", "1,,2", "-1"):
        with pytest.raises(UsageError, match="not a batch size"):
            parse_batch(bad, "--batch")


def gpu(value):
    return {"index": 0, "sku": "H100-SXM5-80GB", "figures": {"matmul_bf16_tflops": value}}


def test_fleet_view_flags_the_slow_node(tmp_path):
    (tmp_path / "smoke").mkdir()
    for host, value in (("a", 690.0), ("b", 700.0), ("c", 560.0), ("d", 695.0)):
        (tmp_path / "smoke" / f"{host}.json").write_text(json.dumps({"gpus": [gpu(value)]}))
    report = RunReport(run_id="r", action="smoke", inventory="i")
    _fleet_view(report, tmp_path, 0.10)
    assert report.fleet["c"]["slow"] and not report.fleet["a"]["slow"]
    assert any(w.startswith("SLOW NODE c GPU 0") for w in report.warnings)


def test_fleet_view_skips_damaged_smoke_results_with_a_warning(tmp_path):
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "a.json").write_text(json.dumps({"gpus": [gpu(690.0)]}))
    (tmp_path / "smoke" / "b.json").write_text("{truncated")
    (tmp_path / "smoke" / "c.json").write_text(json.dumps({"gpus": ["not a gpu"]}))
    (tmp_path / "smoke" / "d.json").mkdir()
    report = RunReport(run_id="r", action="smoke", inventory="i")
    _fleet_view(report, tmp_path, 0.10)
    assert set(report.fleet) == {"a"}
    assert sum("smoke result" in w for w in report.warnings) == 3
