"""The nvidia_driver role's GPUDirect Storage tasks (tasks/validate.yml's refusal, tasks/gds_gate.yml,
tasks/gds.yml), run for real over a local connection (tests/fixtures/role_tasks.py) with the variables they read
injected: the distro's from the role's own vars files, the probe's from module_utils/gds.py read on fixture hosts
(tests/fixtures/gds_host.py). Installing nvidia-fs-dkms from NVIDIA's CUDA repository and loading it
(community.general.modprobe) need root, an Ubuntu 22.04 host and NVIDIA's repository: not run here
(docs/nvidia-driver.md, "GPUDirect Storage (nvidia-fs)", says what was and was not run)."""

from __future__ import annotations

import os

import yaml
from ansible_collections.autoglm.provision.plugins.module_utils import gds

from provisioner import paths
from tests.fixtures.gds_host import KERNEL, host, tools
from tests.fixtures.role_tasks import run_tasks

VERIFY = ("Verify GPUDirect Storage", "Fail when GPUDirect Storage does not work")
GATE = ("Fail when GPUDirect Storage would run on the proprietary kernel modules",
        "Fail before building nvidia-fs that Secure Boot would refuse to load")


def _distro(name):
    return yaml.safe_load((paths.ROLES / "nvidia_driver" / "vars" / f"{name}.yml").read_text())


def _run_dir(tmp_path, name):
    (tmp_path / name).mkdir()
    return tmp_path / name


def test_debian_12_is_refused_early_with_the_reason_and_ubuntu_is_not(tmp_path):
    task = ("Refuse GPUDirect Storage where the role does not install it",)
    debian, ubuntu = _distro("Debian-12"), _distro("Ubuntu-22")

    def case(distro, wanted=True):
        return {"nvidia_driver_gds": wanted, "nvidia_driver__gds_unsupported": distro["nvidia_driver__gds_unsupported"]}

    result = run_tasks(_run_dir(tmp_path, "validate"), "nvidia_driver", "validate.yml", task, {
        "debian": case(debian), "debian-not-asked": case(debian, wanted=False), "ubuntu": case(ubuntu),
    }, "nvidia_driver_gds")
    assert {name: stopped is not None for name, (stopped, _out) in result.items()} == {
        "debian": True, "debian-not-asked": False, "ubuntu": False}
    assert "nvidia_driver_gds=true: Debian 12: this role installs GPUDirect Storage (nvidia-fs) on Ubuntu 22.04 only" \
        in result["debian"][0]
    assert "Fix: set nvidia_driver_gds=false" in result["debian"][0]
    assert ubuntu["nvidia_driver__gds_package"] == "nvidia-fs-dkms"


def test_the_gate_stops_the_proprietary_modules_and_an_unenrolled_key_under_secure_boot(tmp_path):
    def case(module_type="open", secure_boot="disabled", enrolled=False, in_container=False):
        return {"nvidia_driver__kernel_module_type": module_type, "nvidia_driver__in_container": in_container,
                "nvidia_driver__flavour": {"reason": "auto: branch 535 before 560"},
                "nvidia_driver__probe": {"secure_boot": secure_boot, "secure_boot_evidence": "EFI variable SecureBoot"},
                "nvidia_driver_dkms_mok_enrolled": enrolled,
                "nvidia_driver__dkms_signing_cert_path": _distro("Ubuntu-22")["nvidia_driver__dkms_signing_cert_path"]}

    result = run_tasks(_run_dir(tmp_path, "gate"), "nvidia_driver", "gds_gate.yml", GATE, {
        "open": case(), "proprietary": case(module_type="proprietary"),
        "secure-boot": case(secure_boot="enabled"), "secure-boot-enrolled": case(secure_boot="enabled", enrolled=True),
        "container": case(secure_boot="enabled", in_container=True),
    }, "nvidia_driver__kernel_module_type")
    assert {name: stopped is not None for name, (stopped, _out) in result.items()} == {
        "open": False, "proprietary": True, "secure-boot": True, "secure-boot-enrolled": False, "container": False}
    assert "uses symbols ... from proprietary module nvidia" in result["proprietary"][0]
    assert "nvidia_driver_kernel_module_type=open" in result["proprietary"][0]
    assert "mokutil --import /var/lib/shim-signed/mok/MOK.der" in result["secure-boot"][0]
    assert "nvidia_driver_dkms_mok_enrolled=true" in result["secure-boot"][0]


def _probed(root, secure_boot, modinfo="modinfo_nvidia_fs_signed.txt", **tree):
    """What nvidia_gds_facts returns on a fixture host: the probe and its verdict."""
    found = gds.probe(str(host(root, **tree)), KERNEL, "nvidia-fs", tools(modinfo))
    return {"module": found, **gds.verdict(found, secure_boot)}


def test_the_role_verifies_nvidia_fs_and_stops_a_host_where_it_does_not_work(tmp_path):
    def case(probe, wanted=True, pending=""):
        return {"nvidia_driver_gds": wanted, "nvidia_driver__gpudirect_pending": pending,
                "nvidia_driver__gds_probe": probe, "facts": {"kernel": KERNEL},
                **{key: _distro("Ubuntu-22")[key] for key in ("nvidia_driver__dkms_signing_key_path",
                                                               "nvidia_driver__dkms_signing_cert_path")}}

    result = run_tasks(_run_dir(tmp_path, "verify"), "nvidia_driver", "gds.yml", VERIFY, {
        "signed": case(_probed(tmp_path / "a", "enabled", loaded=True, proc=True)),
        "unsigned": case(_probed(tmp_path / "b", "enabled", modinfo="modinfo_nvidia_fs_unsigned.txt")),
        "not-asked": case({"skipped": True}, wanted=False),
        "reboot-pending": case({"skipped": True}, pending="reboot pending: the installed NVIDIA module is not loaded"),
    }, "nvidia_driver__gds")
    verdicts = {name: (stopped is not None, out["verdict"]) for name, (stopped, out) in result.items()}
    assert verdicts == {"signed": (False, "PASS"), "unsigned": (True, "FAIL"), "not-asked": (False, "NOT_APPLICABLE"),
                        "reboot-pending": (False, "UNKNOWN")}
    assert "a key the running kernel holds" in result["signed"][1]["detail"]
    stopped = result["unsigned"][0]
    assert "Secure Boot is enabled and nvidia-fs" in stopped and "unsigned: rejected under Secure Boot" in stopped
    assert "DKMS signs what it builds with /var/lib/shim-signed/mok/MOK.priv" in stopped
    assert f"`dkms autoinstall -k {KERNEL} --force`" in stopped
    assert result["reboot-pending"][1]["detail"].startswith("not loaded: reboot pending")


def test_the_real_probe_on_this_machine_without_nvidia_fs_fails_with_not_installed(tmp_path):
    """The probe module itself (nvidia_gds_facts) through Ansible on this machine, which has no nvidia-fs: the
    verdict is FAIL, not installed, and the role stops the host."""
    names = ("Probe nvidia-fs (file, signer and the kernel's keys, loaded, /proc/driver/nvidia-fs)",) + VERIFY
    case = {"nvidia_driver_gds": True, "nvidia_driver__gpudirect_pending": "", "facts": {"kernel": os.uname().release},
            "nvidia_driver__probe": {"secure_boot": "unsupported"},
            "nvidia_driver__dkms_signing_key_path": "", "nvidia_driver__dkms_signing_cert_path": ""}
    ((stopped, out),) = run_tasks(_run_dir(tmp_path, "here"), "nvidia_driver", "gds.yml", names, {"here": case},
                                  "nvidia_driver__gds").values()
    assert out["verdict"] == "FAIL" and out["module"]["file"] is None
    assert "nvidia-fs is not installed for the running kernel" in stopped
    assert "nvidia_driver_gds=false provisions the host without GPUDirect Storage" in stopped


def test_the_whole_task_file_with_gds_not_asked_installs_and_loads_nothing(tmp_path):
    """Every task of gds.yml with nvidia_driver_gds=false (the default): the repository, install, load and probe
    tasks are skipped (none of them could run here), and the verdict is NOT_APPLICABLE."""
    text = (paths.ROLES / "nvidia_driver" / "tasks" / "gds.yml").read_text()
    names = tuple(task["name"] for task in yaml.safe_load(text))
    case = {"nvidia_driver_gds": False, "nvidia_driver__gpudirect_pending": "", "nvidia_driver__source": "signed",
            "nvidia_driver__gds_package": "nvidia-fs-dkms", "facts": {"kernel": os.uname().release},
            "nvidia_driver__probe": {"secure_boot": "disabled"},
            "nvidia_driver__dkms_signing_key_path": "", "nvidia_driver__dkms_signing_cert_path": ""}
    ((stopped, out),) = run_tasks(_run_dir(tmp_path, "off"), "nvidia_driver", "gds.yml", names, {"off": case},
                                  "nvidia_driver__gds").values()
    assert stopped is None
    assert out == {"verdict": "NOT_APPLICABLE", "detail": "nvidia_driver_gds=false", "module": {}}
