"""The nvidia_driver role's fabric manager tasks (tasks/services.yml), run for real over a local connection:
apt-get's dry run on this machine knows no fabric manager of the made-up version 580.999.99 (nor does any
repository; without apt-get the answer is the same), so an NVSwitch host stops naming every name tried and
apt's error; a host without NVSwitches tries nothing.
The tasks are the role's own, taken from the file by name; the facts they read are injected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner import paths

REPO = Path(__file__).parents[2]
SERVICES = paths.ROLES / "nvidia_driver" / "tasks" / "services.yml"
NAMES = ("Dry-run each fabric manager package name at the driver's exact version",
         "Pick the fabric manager package apt resolves",
         "Fail when no fabric manager package of the driver's version is available",
         "Resolve the fabric manager packages (same version as the driver)")


def _run(tmp_path: Path, want: bool) -> tuple[str | None, str]:
    """(the failure message when the tasks stopped the host, the resolved packages as JSON)."""
    tasks = [t for t in yaml.safe_load(SERVICES.read_text()) if t.get("name") in NAMES]
    assert [t["name"] for t in tasks] == list(NAMES)
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {
        "ansible_python_interpreter": sys.executable, "nvidia_driver__want_fabricmanager": want,
        "nvidia_driver__userland_version": "580.999.99", "nvidia_driver_branch": "580",
        "nvidia_driver_fabricmanager": "auto", "nvidia_driver__probe": {"nvswitch_count": 4},
        "nvidia_driver__fabricmanager_package": "nvidia-fabricmanager-580"},
        "tasks": [
            {"block": tasks, "rescue": [{"ansible.builtin.copy": {
                "dest": str(tmp_path / "stopped.txt"), "content": "{{ ansible_failed_result.msg }}", "mode": "0644"}}]},
            {"ansible.builtin.copy": {
                "dest": str(tmp_path / "packages.json"), "mode": "0644",
                "content": "{{ nvidia_driver__fabricmanager_packages | default('unset') | to_json }}"}},
        ]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(paths.COLLECTIONS_PATH),
           "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH": "ignore", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(tmp_path / "play.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1500:]
    stopped = tmp_path / "stopped.txt"
    return (stopped.read_text() if stopped.exists() else None), (tmp_path / "packages.json").read_text()


@pytest.mark.parametrize("want", [True, False])
def test_fabric_manager_package_choice(tmp_path, want):
    stopped, packages = _run(tmp_path, want)
    if want:
        # 580: the real package first, then the (virtual in NVIDIA's repository) branch name, each with apt's answer.
        first, second = "nvidia-fabricmanager=580.999.99-*", "nvidia-fabricmanager-580=580.999.99-*"
        assert stopped.index(first) < stopped.index(second)
        assert "apt has no fabric manager at driver version 580.999.99" in stopped and "error 802" in stopped
        assert "nvidia_driver_fabricmanager=disabled" in stopped
    else:
        assert stopped is None and packages == "[]"
