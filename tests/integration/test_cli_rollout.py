"""Rollout controls through the real CLI: a failing canary stops the rollout, --retry-failed
picks up exactly the hosts left, and `status` shows the per-host record.

Targets are this machine under three inventory names (local connection) running the read-only
smoke playbook: this machine has no GPU, so a host that requires one fails its smoke gate for
real, while hosts marked `gpu_smoke_require_gpu: false` pass.
"""

import json
import sys

from .conftest import write_inventory


def local(**extra) -> dict:
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **extra}


def test_failed_canary_stops_rollout_then_retry_and_status(cli, tmp_path):
    inv = tmp_path / "hosts.yml"
    write_inventory(inv, {"canary": local(), "wave-1": local(gpu_smoke_require_gpu=False),
                          "wave-2": local(gpu_smoke_require_gpu=False)})
    first = cli("smoke", str(inv), "--level", "quick", "--batch", "1,100%", "--plain")
    report = cli.report()
    assert first.returncode == 1, first.stdout + first.stderr
    assert report["hosts"]["canary"]["status"] == "failed"
    assert "no NVIDIA GPU" in report["hosts"]["canary"]["failures"][-1]["message"]
    assert report["hosts"]["wave-1"]["status"] == "not_run" and report["hosts"]["wave-2"]["status"] == "not_run"
    assert "rollout stopped" in first.stdout
    assert report["options"]["autoglm_batch"] == [1, "100%"]

    # The operator marks the canary as GPU-less (it is a test machine) and retries what is left.
    write_inventory(inv, {"canary": local(gpu_smoke_require_gpu=False), "wave-1": local(gpu_smoke_require_gpu=False),
                          "wave-2": local(gpu_smoke_require_gpu=False)})
    retry = cli("smoke", str(inv), "--level", "quick", "--retry-failed", "--plain")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert "retrying 3 host(s)" in retry.stdout
    assert sorted(cli.report()["hosts"]) == ["canary", "wave-1", "wave-2"]
    assert cli.report()["options"]["retry_of"] == "latest"

    nothing = cli("smoke", str(inv), "--retry-failed", "--plain")
    assert nothing.returncode == 0 and "nothing to retry" in nothing.stdout

    status = cli("status", str(inv), "--json")
    rows = {r["host"]: r for r in json.loads(status.stdout)}
    assert status.returncode == 0
    assert rows["canary"]["last_action"] == "smoke" and rows["canary"]["summary"]["smoke"] is not None
    assert rows["canary"]["ready"] is False  # never provisioned by `site`
    table = cli("status", str(inv), "--plain")
    assert "0 of 3 host(s) ready" in table.stdout


def test_threshold_is_exceeded_not_equalled(cli, tmp_path):
    """Batch of 4 with one failing host = 25 %: --max-fail-percentage 25 goes on, 24 stops."""
    inv = tmp_path / "hosts.yml"
    write_inventory(inv, {"bad": local(), **{f"good-{i}": local(gpu_smoke_require_gpu=False) for i in range(5)}})
    on = cli("smoke", str(inv), "--level", "quick", "--batch", "4", "--max-fail-percentage", "25", "--plain")
    assert on.returncode == 1
    assert not [h for h, r in cli.report()["hosts"].items() if r["status"] == "not_run"], on.stdout
    off = cli("smoke", str(inv), "--level", "quick", "--batch", "4", "--max-fail-percentage", "24", "--plain")
    assert off.returncode == 1
    not_run = [h for h, r in cli.report()["hosts"].items() if r["status"] == "not_run"]
    assert sorted(not_run) == ["good-3", "good-4"], off.stdout


def test_bad_batch_is_a_usage_error(cli, tmp_path):
    inv = write_inventory(tmp_path / "hosts.yml", {"a": local()})
    result = cli("smoke", str(inv), "--batch", "1,0%,abc")
    assert result.returncode == 2 and "is not a batch size" in result.stdout
    assert not (cli.state / "runs").exists()


def test_reachability_preflight_leaves_dead_hosts_out_or_stops_the_run(cli, tmp_path):
    inv = write_inventory(tmp_path / "hosts.yml", {
        "dead.example": {"ansible_host": "127.0.0.1", "ansible_port": 9},  # nothing listens: refused
        "alive": local(gpu_smoke_require_gpu=False)})
    # By default the pre-flight is the playbook's first play (reachability.yml), inside the one
    # ansible-playbook process: the dead host is reported with the category and left out.
    run = cli("smoke", str(inv), "--level", "quick", "--plain")
    report = cli.report()
    assert run.returncode == 4, run.stdout
    assert "reachability pre-flight" not in run.stdout.split("autoglm-provision smoke:")[0]  # no separate step
    dead = report["hosts"]["dead.example"]
    assert dead["status"] == "unreachable" and dead["failures"][0]["task"] == "reachability pre-flight"
    assert dead["failures"][0]["message"].startswith("refused:")
    assert dead["failures"][0]["message"].endswith("(left out of the run)")
    assert len(dead["failures"]) == 1  # nothing after the pre-flight was tried on it
    assert report["hosts"]["alive"]["status"] == "ok"

    strict = cli("smoke", str(inv), "--level", "quick", "--plain", "--probe-strict")
    assert strict.returncode == 4 and "nothing was run" in strict.stdout
    assert "reachability pre-flight: 0 of 1 SSH host(s) ready" in strict.stdout  # the separate pre-flight

    unprobed = cli("smoke", str(inv), "--level", "quick", "--plain", "--no-probe")
    assert unprobed.returncode == 4
    first = cli.report()["hosts"]["dead.example"]["failures"][0]["task"]
    assert first == "common : Gather facts (common_gather_subset; never the caller's environment)"  # Ansible's own view
