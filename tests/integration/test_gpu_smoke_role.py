"""The gpu_smoke role through the real CLI against a podman container (which has no GPU).

Nothing is faked: the program really finds no NVIDIA GPU/driver in the container. With the
default (a GPU is required) `site` must fail the host at the smoke gate; with the inventory
saying the host needs no GPU it passes, is idempotent, and check mode changes nothing. The GPU
paths of the same role ran on the H100 (docs/gpu-smoke.md).
"""

import json

import yaml

from provisioner import paths

from .conftest import needs_podman, podman_host, write_inventory

pytestmark = [needs_podman]


def test_site_lists_gpu_smoke_last():
    for playbook in ("site", "check", "smoke"):
        plays = yaml.safe_load((paths.PLAYBOOKS / f"{playbook}.yml").read_text())
        assert plays[-1]["roles"][-1]["role"] == "autoglm.provision.gpu_smoke", playbook
    # check runs the quick level whatever the inventory says: check.yml sets the read-only switch,
    # and the role's vars (which an inventory cannot override) derive the level from it.
    assert yaml.safe_load((paths.PLAYBOOKS / "check.yml").read_text())[-1]["vars"]["autoglm_action"] == "check"
    role_vars = yaml.safe_load((paths.ROLES / "gpu_smoke" / "vars" / "main.yml").read_text())
    assert role_vars["gpu_smoke__level"] == "{{ 'quick' if gpu_smoke__read_only else gpu_smoke_level }}"
    assert "autoglm_action" in role_vars["gpu_smoke__read_only"]


def test_site_fails_a_host_whose_smoke_test_fails(cli, container, tmp_path):
    inv = write_inventory(tmp_path / "hosts.yml", {container: podman_host(container)})
    # --tags gpu_smoke: only the gate runs, whatever roles come before it in site.yml.
    result = cli("site", str(inv), "--plain", "--tags", "gpu_smoke")
    report = cli.report()
    host = report["hosts"][container]
    assert result.returncode == 1, result.stdout + result.stderr
    assert host["status"] == "failed", host
    messages = " ".join(f["message"] for f in host["failures"])
    assert "GPU smoke test (quick) FAILED" in messages and "no NVIDIA GPU/driver" in messages, messages
    fact = host["facts"]["gpu_smoke"]
    assert fact["verdict"] == "fail" and fact["gpu_present"] is False and fact["level"] == "quick"
    smoke_json = json.loads((cli.latest() / "smoke" / f"{container}.json").read_text())
    assert smoke_json["verdict"] == "fail" and smoke_json["host_checks"][0]["name"] == "nvidia_gpu_present"
    assert smoke_json["environment"]["nvml_bindings"].startswith("bundled")  # no pynvml in the container


def test_host_needing_no_gpu_passes_idempotently_and_check_mode_is_clean(cli, container, tmp_path):
    # gpu_smoke_level in the inventory: `check` must run quick all the same (its read-only switch
    # wins over the inventory), while `smoke --level` chooses.
    inv = write_inventory(tmp_path / "hosts.yml",
                          {container: podman_host(container, gpu_smoke_require_gpu=False, gpu_smoke_level="standard")})
    first = cli("smoke", str(inv), "--plain", "--level", "standard", "--tags", "gpu_smoke")
    host = cli.report()["hosts"][container]
    assert first.returncode == 0, first.stdout + first.stderr
    assert host["status"] == "ok"
    fact = host["facts"]["gpu_smoke"]
    assert fact["verdict"] == "pass" and fact["level"] == "standard"
    assert "none is needed" in fact["reason"]
    assert any("missing; ran with /usr/bin/python3" in w for w in fact["warnings"])  # no venv in the container
    assert host["changed"] == 0 and host["ok"] > 0, host  # the host keeps nothing: 0 changed, every run
    check = cli("check", str(inv), "--plain", "--check", "--tags", "gpu_smoke")
    assert check.returncode == 0, check.stdout + check.stderr
    assert cli.report()["hosts"][container]["facts"]["gpu_smoke"]["level"] == "quick"
    scratch = cli_exec(container, "ls /tmp | grep -c autoglm-gpu-smoke || true")
    assert scratch.strip() == "0", scratch  # the scratch directory is gone


def cli_exec(container, command):
    import subprocess

    return subprocess.run(["podman", "exec", container, "sh", "-c", command], capture_output=True, text=True,
                          check=False).stdout
