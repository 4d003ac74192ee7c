"""Ubuntu 22.04 paths of the nvidia_driver role, run for real with Ubuntu facts.

Ubuntu's archive is unreachable here, so no Ubuntu container can run the role. These tests run
the role's own resolution and validation task files (roles/nvidia_driver/tasks/resolve.yml and
validate.yml) with ansible-playbook against a local connection, one inventory host per case,
with Ubuntu 22.04 facts injected into the fact cache (set_fact cacheable: the facts are what is
faked; the tasks, vars files and Jinja are the role's). Debian 12 hosts are included to check
the per-distro selection the Molecule scenario then runs for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner import paths

REPO = Path(__file__).parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

UBUNTU_FACTS = {
    "distribution": "Ubuntu", "distribution_major_version": "22", "distribution_version": "22.04",
    "kernel": "5.15.0-91-generic", "architecture": "x86_64",
    "virtualization_role": "host", "virtualization_type": "kvm",
}
# The GPU machines: Ubuntu 24.04, not a supported target (docs/os-support.md).
UBUNTU2404_FACTS = {
    "distribution": "Ubuntu", "distribution_major_version": "24", "distribution_version": "24.04",
    "kernel": "6.8.0-45-generic", "architecture": "x86_64",
    "virtualization_role": "guest", "virtualization_type": "kvm",
}
DEBIAN_FACTS = {
    "distribution": "Debian", "distribution_major_version": "12", "distribution_version": "12.7",
    "kernel": "6.1.0-26-amd64", "architecture": "x86_64",
    "virtualization_role": "host", "virtualization_type": "kvm",
}


def run_resolution(tmp_path: Path, role: str, task_files: list[str], outputs: list[str],
                   cases: dict[str, tuple[dict, dict]]) -> dict[str, dict]:
    """Run ``task_files`` of ``role`` for every case (host -> (facts, role variables)).

    Returns host -> {output variable: value}, or {"failed": message} for a host whose tasks failed.
    """
    hosts = {}
    for host, (facts, role_vars) in cases.items():
        hosts[host] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                       "case_facts": {f"ansible_{k}": v for k, v in facts.items()}, **role_vars}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    outdir = tmp_path / "out"
    outdir.mkdir()
    include = [{"name": f"Run {role} {name}", "ansible.builtin.include_role":
                {"name": f"autoglm.provision.{role}", "tasks_from": name, "public": True}} for name in task_files]
    play = [{
        "name": "Resolve with injected facts", "hosts": "all", "gather_facts": False,
        "tasks": [
            {"name": "Inject the case's facts", "ansible.builtin.set_fact": {
                "cacheable": True, **{}}, "vars": {}},
            {"name": "Run and record", "block": include + [
                {"name": "Record", "ansible.builtin.copy": {
                    "dest": f"{outdir}/{{{{ inventory_hostname }}}}.json",
                    "content": "{{ {" + ", ".join(f"'{o}': {o}" for o in outputs) + "} | to_json }}",
                    "mode": "0644"}}],
             "rescue": [
                 {"name": "Record the failure", "ansible.builtin.copy": {
                     "dest": f"{outdir}/{{{{ inventory_hostname }}}}.json",
                     "content": "{{ {'failed': ansible_failed_result.msg} | to_json }}",
                     "mode": "0644"}}]},
        ],
    }]
    # set_fact keys must be literal: the facts differ per host, so inject them by name.
    fact_names = sorted({k for facts, _ in cases.values() for k in facts})
    play[0]["tasks"][0]["ansible.builtin.set_fact"].update(
        {f"ansible_{k}": f"{{{{ case_facts['ansible_{k}'] }}}}" for k in fact_names})
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(paths.COLLECTIONS_PATH),
           "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH": "ignore", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0"}
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {host: json.loads((outdir / f"{host}.json").read_text()) for host in cases}


OUTPUTS = ["nvidia_driver__source", "nvidia_driver__install_packages", "nvidia_driver__apt_names",
           "nvidia_driver__uses_dkms", "nvidia_driver__userland_package", "nvidia_driver__module_name",
           "nvidia_driver__kernel_flavour", "nvidia_driver__in_container", "nvidia_driver__on_controller",
           "nvidia_driver__fabricmanager_package", "nvidia_driver__hold_sources_regex",
           "nvidia_driver__kernel_module_type", "nvidia_driver__flavour", "nvidia_driver__gpus_too_new",
           "nvidia_driver__want_fabricmanager", "nvidia_driver__source_reason", "nvidia_driver__source_to_check"]


def _probe(device_ids, nvswitches=0):
    """The part of nvidia_driver_facts' result that packages.yml reads."""
    return {"gpus": [{"slot": f"0000:{18 + i:02x}:00.0", "device_id": d} for i, d in enumerate(device_ids)],
            "nvswitch_count": nvswitches}


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    hwe = {**UBUNTU_FACTS, "kernel": "6.5.0-45-generic"}
    container = {**UBUNTU_FACTS, "virtualization_role": "guest", "virtualization_type": "podman"}
    cases = {
        "ubuntu-default": (UBUNTU_FACTS, {}),
        "ubuntu-hwe": (hwe, {}),
        "ubuntu-pinned": (UBUNTU_FACTS, {"nvidia_driver_version": "535.183.01"}),
        "ubuntu-dkms": (UBUNTU_FACTS, {"nvidia_driver_source": "dkms"}),
        "ubuntu-cuda-repo": (UBUNTU_FACTS, {"nvidia_driver_source": "cuda-repo", "nvidia_driver_branch": "550"}),
        "ubuntu-container": (container, {}),
        "ubuntu-lowlatency": (UBUNTU_FACTS, {"nvidia_driver_ubuntu_kernel_flavour": "lowlatency"}),
        "ubuntu-bad-pin": (UBUNTU_FACTS, {"nvidia_driver_version": "550.54.14"}),
        "debian-default": (DEBIAN_FACTS, {}),
        "debian-signed": (DEBIAN_FACTS, {"nvidia_driver_source": "signed"}),
        "debian-cuda-repo": (DEBIAN_FACTS, {"nvidia_driver_source": "cuda-repo"}),
        "debian-550": (DEBIAN_FACTS, {"nvidia_driver_branch": "550"}),
        "debian-pinned": (DEBIAN_FACTS, {"nvidia_driver_version": "535.261.03"}),
        "ubuntu2404": (UBUNTU2404_FACTS, {}),
        "ubuntu2404-as-2204": (UBUNTU2404_FACTS, {"autoglm_os_as": "Ubuntu-22"}),
        # Kernel module flavour (nvidia_driver_kernel_module_type): auto rules and package naming.
        "ubuntu-b200-auto": (UBUNTU_FACTS, {"nvidia_driver_branch": "570",
                                            "nvidia_driver_gpu_models": ["B200"]}),
        "ubuntu-h100-580-auto": (UBUNTU_FACTS, {"nvidia_driver_branch": "580",
                                                "nvidia_driver_gpu_models": ["H100"]}),
        "ubuntu-h100-535-auto": (UBUNTU_FACTS, {"nvidia_driver_gpu_models": ["H100"]}),
        "ubuntu-b200-proprietary": (UBUNTU_FACTS, {"nvidia_driver_branch": "570", "nvidia_driver_gpu_models": ["B200"],
                                                   "nvidia_driver_kernel_module_type": "proprietary"}),
        "ubuntu-open-pinned": (UBUNTU_FACTS, {"nvidia_driver_kernel_module_type": "open",
                                              "nvidia_driver_version": "535.183.01"}),
        "ubuntu-open-dkms": (UBUNTU_FACTS, {"nvidia_driver_kernel_module_type": "open",
                                            "nvidia_driver_source": "dkms"}),
        "ubuntu-open-cuda-repo": (UBUNTU_FACTS, {"nvidia_driver_kernel_module_type": "open",
                                                 "nvidia_driver_branch": "570", "nvidia_driver_source": "cuda-repo"}),
        # What the PCI probe found (nvidia_driver__probe, injected): packages.yml runs again after it.
        "ubuntu-found-b200-535": (UBUNTU_FACTS, {"nvidia_driver__probe": _probe(["0x2901"] * 8)}),
        "ubuntu-found-h100-pcie": (UBUNTU_FACTS, {"nvidia_driver__probe": _probe(["0x2331", "0x2331"])}),
        "ubuntu-found-hgx-h100": (UBUNTU_FACTS, {"nvidia_driver__probe": _probe(["0x2330"] * 8, nvswitches=4)}),
        "ubuntu-found-hgx-fm-off": (UBUNTU_FACTS, {"nvidia_driver__probe": _probe(["0x2330"] * 8, nvswitches=4),
                                                   "nvidia_driver_fabricmanager": "disabled"}),
        "debian-open": (DEBIAN_FACTS, {"nvidia_driver_kernel_module_type": "open"}),
        "debian-v100-open": (DEBIAN_FACTS, {"nvidia_driver_kernel_module_type": "open",
                                            "nvidia_driver_gpu_models": ["V100"]}),
    }
    return run_resolution(tmp_path_factory.mktemp("nvidia"), "nvidia_driver", ["resolve.yml", "validate.yml"],
                          OUTPUTS, cases)


def test_ubuntu_default_is_canonicals_signed_modules_for_the_running_kernel(resolved):
    r = resolved["ubuntu-default"]
    assert r["nvidia_driver__source"] == "signed"
    assert not r["nvidia_driver__uses_dkms"]
    assert r["nvidia_driver__kernel_flavour"] == "generic"
    assert r["nvidia_driver__install_packages"] == [
        "linux-modules-nvidia-535-server-generic",
        "nvidia-headless-no-dkms-535-server",
        "nvidia-utils-535-server",
        "linux-modules-nvidia-535-server-5.15.0-91-generic",
    ]
    assert r["nvidia_driver__apt_names"] == r["nvidia_driver__install_packages"]
    assert r["nvidia_driver__userland_package"] == "nvidia-utils-535-server"
    assert r["nvidia_driver__module_name"] == "nvidia"
    assert r["nvidia_driver__fabricmanager_package"] == "nvidia-fabricmanager-535"
    assert not r["nvidia_driver__in_container"]
    # These tests run over a local connection: the role must see the controller (never rebooted).
    assert r["nvidia_driver__on_controller"]


def test_ubuntu_hwe_kernel_uses_the_hwe_flavour_meta_package(resolved):
    r = resolved["ubuntu-hwe"]
    assert r["nvidia_driver__kernel_flavour"] == "generic-hwe-22.04"
    assert r["nvidia_driver__install_packages"][0] == "linux-modules-nvidia-535-server-generic-hwe-22.04"
    assert r["nvidia_driver__install_packages"][-1] == "linux-modules-nvidia-535-server-6.5.0-45-generic"


def test_flavour_override(resolved):
    assert resolved["ubuntu-lowlatency"]["nvidia_driver__install_packages"][0] == \
        "linux-modules-nvidia-535-server-lowlatency"


def test_version_pin_applies_to_userland_not_to_kernel_module_packages(resolved):
    names = resolved["ubuntu-pinned"]["nvidia_driver__apt_names"]
    assert names == [
        "linux-modules-nvidia-535-server-generic",
        "nvidia-headless-no-dkms-535-server=535.183.01-*",
        "nvidia-utils-535-server=535.183.01-*",
        "linux-modules-nvidia-535-server-5.15.0-91-generic",
    ]


def test_ubuntu_dkms_source(resolved):
    r = resolved["ubuntu-dkms"]
    assert r["nvidia_driver__uses_dkms"]
    assert r["nvidia_driver__install_packages"] == ["nvidia-headless-535-server", "nvidia-utils-535-server"]


def test_ubuntu_cuda_repo_source(resolved):
    r = resolved["ubuntu-cuda-repo"]
    assert r["nvidia_driver__uses_dkms"]
    assert r["nvidia_driver__install_packages"] == ["cuda-drivers-550"]
    assert r["nvidia_driver__userland_package"] == "nvidia-utils-550"
    assert "cuda-drivers-550" in r["nvidia_driver__hold_sources_regex"]


def test_ubuntu_container_gets_no_running_kernel_module_package(resolved):
    r = resolved["ubuntu-container"]
    assert r["nvidia_driver__in_container"]
    assert r["nvidia_driver__install_packages"] == [
        "linux-modules-nvidia-535-server-generic", "nvidia-headless-no-dkms-535-server", "nvidia-utils-535-server"]


def test_pin_from_another_branch_fails_naming_host_and_variables(resolved):
    msg = resolved["ubuntu-bad-pin"]["failed"]
    assert "ubuntu-bad-pin" in msg and "nvidia_driver_version=550.54.14" in msg


def test_debian_resolves_to_the_non_free_dkms_packages(resolved):
    r = resolved["debian-default"]
    assert r["nvidia_driver__source"] == "dkms"
    assert r["nvidia_driver__install_packages"] == [
        "nvidia-kernel-dkms", "nvidia-smi", "libcuda1", "libnvidia-ml1", "nvidia-persistenced"]
    assert r["nvidia_driver__module_name"] == "nvidia-current"
    pinned = resolved["debian-pinned"]["nvidia_driver__apt_names"]
    assert pinned == ["nvidia-kernel-dkms=535.261.03-*", "nvidia-smi=535.261.03-*", "libcuda1=535.261.03-*",
                      "libnvidia-ml1=535.261.03-*", "nvidia-persistenced"]


@pytest.mark.parametrize(("host", "needle"), [
    ("debian-signed", "nvidia_driver_source=signed"),
    ("debian-cuda-repo", "nvidia_driver_source=cuda-repo"),
    ("debian-550", "this distro packages 535"),
])
def test_debian_rejects_ubuntu_only_sources_and_unpackaged_branches(resolved, host, needle):
    msg = resolved[host]["failed"]
    assert host in msg and needle in msg and "allowed here: auto, dkms" in msg


def test_unsupported_os_stops_unless_run_as_a_supported_one(resolved):
    # Ubuntu 24.04 has no packaging variables: the role stops.
    assert "failed" in resolved["ubuntu2404"]
    assert resolved["ubuntu2404"]["failed"]
    # autoglm_os_as=Ubuntu-22: Ubuntu 22.04's packaging, the HWE-style flavour of the 6.8 kernel.
    r = resolved["ubuntu2404-as-2204"]
    assert r["nvidia_driver__source"] == "signed"
    assert r["nvidia_driver__install_packages"][1:] == [
        "nvidia-headless-no-dkms-535-server",
        "nvidia-utils-535-server",
        "linux-modules-nvidia-535-server-6.8.0-45-generic",
    ]


def test_default_is_the_proprietary_flavour_with_the_reason(resolved):
    for host in ("ubuntu-default", "debian-default", "ubuntu-h100-535-auto"):
        r = resolved[host]
        assert r["nvidia_driver__kernel_module_type"] == "proprietary", host
        assert r["nvidia_driver__flavour"]["ok"] and r["nvidia_driver__flavour"]["reason"].startswith("auto:")
    assert "< 560" in resolved["ubuntu-h100-535-auto"]["nvidia_driver__flavour"]["reason"]


def test_auto_picks_open_for_blackwell_and_for_hopper_from_560(resolved):
    b200 = resolved["ubuntu-b200-auto"]
    assert b200["nvidia_driver__kernel_module_type"] == "open"
    assert "required" in b200["nvidia_driver__flavour"]["reason"]
    assert b200["nvidia_driver__install_packages"] == [
        "linux-modules-nvidia-570-server-open-generic",
        "nvidia-headless-no-dkms-570-server-open",
        "nvidia-utils-570-server",
        "linux-modules-nvidia-570-server-open-5.15.0-91-generic",
    ]
    h100 = resolved["ubuntu-h100-580-auto"]
    assert h100["nvidia_driver__kernel_module_type"] == "open" and ">= 560" in h100["nvidia_driver__flavour"]["reason"]


def test_proprietary_on_blackwell_stops_the_host_naming_the_variable_and_the_fix(resolved):
    msg = resolved["ubuntu-b200-proprietary"]["failed"]
    assert "ubuntu-b200-proprietary" in msg and "nvidia_driver_kernel_module_type=proprietary" in msg
    assert "B200" in msg and "Blackwell" in msg and "set nvidia_driver_kernel_module_type=open" in msg


def test_open_flavour_package_names_and_pins_per_source(resolved):
    assert resolved["ubuntu-open-pinned"]["nvidia_driver__apt_names"] == [
        "linux-modules-nvidia-535-server-open-generic",
        "nvidia-headless-no-dkms-535-server-open=535.183.01-*",
        "nvidia-utils-535-server=535.183.01-*",
        "linux-modules-nvidia-535-server-open-5.15.0-91-generic",
    ]
    assert resolved["ubuntu-open-dkms"]["nvidia_driver__install_packages"] == [
        "nvidia-headless-535-server-open", "nvidia-utils-535-server"]
    cuda_repo = resolved["ubuntu-open-cuda-repo"]
    assert cuda_repo["nvidia_driver__install_packages"] == ["nvidia-open-570"]
    assert "nvidia-open(-570)?" in cuda_repo["nvidia_driver__hold_sources_regex"]


def test_debian_open_flavour_is_the_contrib_dkms_package_and_its_module(resolved):
    r = resolved["debian-open"]
    assert r["nvidia_driver__kernel_module_type"] == "open"
    assert r["nvidia_driver__install_packages"] == [
        "nvidia-open-kernel-dkms", "nvidia-open-kernel-support", "firmware-nvidia-gsp",
        "nvidia-smi", "libcuda1", "libnvidia-ml1", "nvidia-persistenced"]
    assert r["nvidia_driver__module_name"] == "nvidia-current-open"
    assert "nvidia-open-gpu-kernel-modules" in r["nvidia_driver__hold_sources_regex"]
    msg = resolved["debian-v100-open"]["failed"]
    assert "V100" in msg and "GSP" in msg


def test_gpus_found_on_the_bus_decide_flavour_minimum_driver_and_fabric_manager(resolved):
    b200 = resolved["ubuntu-found-b200-535"]
    assert b200["nvidia_driver__kernel_module_type"] == "open"
    assert b200["nvidia_driver__install_packages"][0] == "linux-modules-nvidia-535-server-open-generic"
    assert {g["sku"] for g in b200["nvidia_driver__gpus_too_new"]} == {"B200"}  # needs >= 570.133.20
    assert b200["nvidia_driver__want_fabricmanager"]  # HGX B200: its NVSwitches are not on the PCI bus
    pcie = resolved["ubuntu-found-h100-pcie"]
    assert pcie["nvidia_driver__gpus_too_new"] == [] and not pcie["nvidia_driver__want_fabricmanager"]
    assert pcie["nvidia_driver__kernel_module_type"] == "proprietary"
    assert resolved["ubuntu-found-hgx-h100"]["nvidia_driver__want_fabricmanager"]
    assert not resolved["ubuntu-found-hgx-fm-off"]["nvidia_driver__want_fabricmanager"]


# --- nvidia_driver_source=auto: precompiled where Canonical has it, DKMS otherwise (tasks/source.yml) ------
# Run for real: apt-get's dry run on this machine (where it exists) cannot know a module package for
# a kernel release that was never built (5.15.0-9999), so auto falls back to DKMS; the package lists are
# taken as fresh (common__apt_refreshed) so nothing is downloaded.
def test_auto_source_falls_back_to_dkms_without_a_precompiled_module_and_checks_secure_boot(tmp_path):
    kernel = {**UBUNTU_FACTS, "kernel": "5.15.0-9999-generic"}
    probe = {"gpus": [], "nvswitch_count": 0, "secure_boot": "disabled", "secure_boot_evidence": "EFI variable"}
    base = {"common__apt_refreshed": True, "nvidia_driver__keep_present": False}
    cases = {
        "ubuntu-no-precompiled": (kernel, {**base, "nvidia_driver__probe": probe}),
        "ubuntu-no-precompiled-sb": (kernel, {**base, "nvidia_driver__probe": {**probe, "secure_boot": "enabled"}}),
    }
    out = run_resolution(tmp_path, "nvidia_driver", ["resolve.yml", "source.yml"],
                         ["nvidia_driver__source", "nvidia_driver__source_reason", "nvidia_driver__install_packages",
                          "nvidia_driver__uses_dkms"], cases)
    r = out["ubuntu-no-precompiled"]
    assert r["nvidia_driver__source"] == "dkms" and r["nvidia_driver__uses_dkms"]
    assert r["nvidia_driver__install_packages"] == ["nvidia-headless-535-server", "nvidia-utils-535-server"]
    assert "linux-modules-nvidia-535-server-5.15.0-9999-generic" in r["nvidia_driver__source_reason"]
    assert r["nvidia_driver__source_reason"].startswith("auto: Canonical publishes no ")
    msg = out["ubuntu-no-precompiled-sb"]["failed"]
    assert "Secure Boot is enabled" in msg and "nvidia_driver_source=dkms" in msg


def test_source_reason_says_where_the_source_came_from(resolved):
    assert resolved["ubuntu-default"]["nvidia_driver__source_reason"] == \
        "auto: Ubuntu 22's default, Canonical's signed precompiled modules"
    assert resolved["debian-default"]["nvidia_driver__source_reason"] == "auto: Debian 12's default"
    assert resolved["ubuntu-dkms"]["nvidia_driver__source_reason"] == "nvidia_driver_source=dkms"
    # Only auto's signed default on a host is checked against the package lists (tasks/source.yml).
    assert {host: resolved[host]["nvidia_driver__source_to_check"] for host in
            ("ubuntu-default", "ubuntu-container", "ubuntu-dkms", "debian-default")} == {
        "ubuntu-default": True, "ubuntu-container": False, "ubuntu-dkms": False, "debian-default": False}
