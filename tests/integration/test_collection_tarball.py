"""The collection on its own: `ansible-galaxy collection build` makes a tarball that installs, and a
user's own playbook runs it by FQCN (playbook, roles, modules, filters) with plain ansible-playbook,
against this machine in check mode, with nothing of the checkout on Ansible's paths."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from provisioner import paths

BIN = Path(sys.executable).parent

USER_PLAYBOOK = [
    {"name": "Roles, modules and filters by their full names", "hosts": "all", "gather_facts": True,
     "roles": [{"role": "autoglm.provision.common"}],
     "tasks": [
         {"name": "Scan the PCI bus", "autoglm.provision.autoglm_pci_gpus": None, "register": "user_pci"},
         {"name": "Render modprobe lines", "ansible.builtin.set_fact": {
             "user_lines": "{{ {'nvidia': {'NVreg_EnableMSI': 1}}"
                           " | autoglm.provision.modprobe_conf_lines(['nouveau']) }}"}},
         {"name": "Show what the collection gave", "ansible.builtin.debug": {
             "msg": "USER-PLAY pci_count={{ user_pci.gpus | length }} lines={{ user_lines }}"
                    " report_host={{ autoglm_report_host is defined }}"}},
     ]},
    {"name": "The collection's own read-only check", "ansible.builtin.import_playbook": "autoglm.provision.check"},
]


def _run(args, cwd, env, timeout=300):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_tarball_builds_installs_and_runs_from_a_users_playbook(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore",
               ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"))
    built = _run([str(BIN / "ansible-galaxy"), "collection", "build", str(paths.COLLECTION), "--output-path",
                  str(tmp_path / "dist")], tmp_path, env)
    assert built.returncode == 0, built.stdout + built.stderr
    (tarball,) = (tmp_path / "dist").glob("autoglm-provision-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "MANIFEST.json" in names and "plugins/modules/bios_prereq.py" in names
    assert "playbooks/site.yml" in names and not [n for n in names if "__pycache__" in n]
    # The GPU smoke program, which the action autoglm_smoke_run builds from the collection, and what
    # ansible-builder reads for the collection's controller-side Python requirements.
    assert "autoglm_smoke/build.py" in names and "autoglm_smoke/references.json" in names
    assert "meta/execution-environment.yml" in names and "meta/ee-requirements.txt" in names
    # The root is the collection and also the project: galaxy.yml's build_ignore keeps the rest out.
    tops = {n.split("/")[0] for n in names}
    project_only = {"provisioner", "tests", "molecule", "bench", "scripts", ".cache", "setup.py", "pyproject.toml"}
    assert not tops & project_only, tops
    # --no-deps: Galaxy is unreachable here; community.general comes from the ansible package.
    installed = _run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p",
                      str(tmp_path / "collections"), str(tarball)], tmp_path, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (tmp_path / "collections/ansible_collections/autoglm/provision/MANIFEST.json").is_file()

    (tmp_path / "play.yml").write_text(yaml.safe_dump(USER_PLAYBOOK, sort_keys=False, width=200))
    proc = _run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check", "play.yml",
                 "-e", f"ansible_python_interpreter={sys.executable}", "-e", "preflight_storage_read_test=false"],
                tmp_path, env, timeout=600)
    out = proc.stdout + proc.stderr
    assert "USER-PLAY pci_count=0" in out, out[-4000:]
    assert "options nvidia NVreg_EnableMSI=1" in out and "blacklist nouveau" in out and "report_host=True" in out
    # The imported check playbook ran its gates: this machine (no GPU) gets the verdict, by name.
    assert "PLAY [Qualify Open-AutoGLM GPU hosts (read-only)]" in out, out[-4000:]
    assert "localhost does not qualify" in out and "NVIDIA GPUs on the PCI bus" in out, out[-4000:]
    assert proc.returncode == 2, out[-4000:]  # the verdict fails the host: ansible-playbook's own rc
