"""The collection's site/smoke playbooks under plain ansible-playbook (as AWX runs them), with the
rollout caps in the inventory (issue #28 item 4). Ansible templates the rollout play's serial and
max_fail_percentage without inventory variables, so an inventory-only cap must stop the run before any
host is contacted, naming the variable, the host and the way to pass it. Local-connection hosts whose
Python does not exist: nothing of the playbooks can run on this machine, whatever happens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner import paths

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
NO_PYTHON = {"ansible_connection": "local", "ansible_python_interpreter": "/nonexistent/python3"}
REFUSED = "Pass them as extra vars instead"


def play(tmp_path: Path, playbook: str, inventory: dict, *args: str) -> tuple[int, str]:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(yaml.safe_dump(inventory))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
           "ANSIBLE_COLLECTIONS_PATH": str(paths.ensure_collections_path()), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(hosts), f"autoglm.provision.{playbook}", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def fleet(all_vars: dict, h2_vars: dict | None = None) -> dict:
    return {"all": {"vars": {**NO_PYTHON, **all_vars},
                    "children": {"rack1": {"hosts": {"h1": None, "h2": h2_vars or None, "h3": None}}}}}


@pytest.mark.parametrize("playbook", ["site", "smoke"])
def test_a_batch_only_in_the_inventory_stops_the_run_before_any_host_is_contacted(tmp_path, playbook):
    rc, out = play(tmp_path, playbook, fleet({"autoglm_batch": 1}))
    assert rc != 0, out
    assert REFUSED in out and "h1: autoglm_batch=1" in out and "-e '{\"autoglm_batch\"" in out, out
    assert "PLAY [Reachability pre-flight]" not in out and "h2 " not in out.split("PLAY RECAP")[-1], out


def test_a_failure_cap_on_one_group_or_host_is_named_with_its_host(tmp_path):
    rc, out = play(tmp_path, "site", fleet({}, {"autoglm_max_fail_percentage": 0}))
    assert rc != 0 and REFUSED in out and "h2: autoglm_max_fail_percentage=0" in out, out
    assert "h1: autoglm" not in out and "PLAY [Reachability pre-flight]" not in out, out


@pytest.mark.parametrize("extra", [["-e", '{"autoglm_batch": 1, "autoglm_max_fail_percentage": 0}'], []])
def test_caps_given_as_extra_vars_or_not_at_all_pass_to_the_run(tmp_path, extra):
    inventory = fleet({"autoglm_batch": 1, "autoglm_max_fail_percentage": 0} if extra else {})
    rc, out = play(tmp_path, "site", inventory, *extra)
    assert REFUSED not in out and "PLAY [Reachability pre-flight]" in out, out
    assert rc != 0  # then no host has a Python: the pre-flight fails them, nothing else runs
