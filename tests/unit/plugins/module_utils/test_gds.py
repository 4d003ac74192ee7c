"""module_utils/gds.py: nvidia-fs (GPUDirect Storage) read and judged on fixture hosts: SYNTHESIZED trees
(/sys/module/nvidia_fs, /proc/driver/nvidia-fs, /proc/keys) and the modinfo/dmesg outputs of tests/fixtures/gds/
(sources and which are synthesized in its README). No nvidia-fs host exists here: what one adds is said in
docs/nvidia-driver.md, "GPUDirect Storage (nvidia-fs)"."""

from __future__ import annotations

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import gds

from tests.fixtures.gds_host import KERNEL, host, tools


def _probe(root, modinfo="modinfo_nvidia_fs_signed.txt", dmesg=None, **tree):
    return gds.probe(host(root, **tree), KERNEL, "nvidia-fs", tools(modinfo, dmesg))


def test_a_signed_loaded_module_is_read_with_its_signer_and_the_kernels_trust(tmp_path):
    found = _probe(tmp_path, loaded=True, proc=True)
    assert (found["file"], found["version"], found["loaded"], found["proc"]) == (
        f"/lib/modules/{KERNEL}/updates/dkms/nvidia-fs.ko", "2.17.5", True, True)
    assert found["signature"]["signer"] == "autoglm-provision test module signing key"
    assert found["signature"]["key_trusted"] is True
    assert found["gpl_refusals"] == []


def test_an_unsigned_module_and_unreadable_keyrings(tmp_path):
    unsigned = _probe(tmp_path / "a", modinfo="modinfo_nvidia_fs_unsigned.txt")
    assert (unsigned["signature"]["signed"], unsigned["signature"]["key_trusted"]) == (False, False)
    unknown = _probe(tmp_path / "b", keys=False)
    assert unknown["signature"]["key_trusted"] is None


def test_a_missing_module_has_no_file_and_no_signature(tmp_path):
    found = _probe(tmp_path, modinfo=None)
    assert (found["file"], found["version"], found["signature"], found["gpl_refusals"]) == (None, None, None, [])


def test_the_kernels_refusal_of_the_proprietary_modules_symbols_is_read(tmp_path):
    found = _probe(tmp_path, dmesg="dmesg_nvidia_fs_gpl_refusal.txt")
    assert len(found["gpl_refusals"]) == 2
    assert all("nvidia_p2p_" in line for line in found["gpl_refusals"])


@pytest.mark.parametrize(("modinfo", "secure_boot", "tree", "expected", "says"), [
    ("modinfo_nvidia_fs_signed.txt", "enabled", {"loaded": True, "proc": True}, "PASS",
     "a key the running kernel holds"),
    ("modinfo_nvidia_fs_unsigned.txt", "disabled", {"loaded": True, "proc": True}, "PASS",
     "Secure Boot disabled, signer: none"),
    ("modinfo_nvidia_fs_unsigned.txt", "enabled", {}, "FAIL", "unsigned: rejected under Secure Boot"),
    (None, "disabled", {}, "FAIL", "not installed for the running kernel"),
    ("modinfo_nvidia_fs_signed.txt", "enabled", {"loaded": True}, "FAIL", "/proc/driver/nvidia-fs is missing"),
    ("modinfo_nvidia_fs_signed.txt", "disabled", {}, "FAIL", "see `modprobe -v nvidia-fs`"),
])
def test_verdicts(tmp_path, modinfo, secure_boot, tree, expected, says):
    result = gds.verdict(_probe(tmp_path, modinfo=modinfo, **tree), secure_boot)
    assert result["verdict"] == expected
    assert says in result["detail"]


def test_a_key_the_kernel_does_not_hold_fails_under_secure_boot_only(tmp_path):
    found = _probe(tmp_path, loaded=True, proc=True)
    found["signature"] = {**found["signature"], "key_trusted": False, "verdict": "signed by 'x', a key the running "
                          "kernel does not hold (enrol it in db or MOK): rejected under Secure Boot"}
    assert gds.verdict(found, "enabled")["verdict"] == "FAIL"
    assert gds.verdict(found, "disabled")["verdict"] == "PASS"


def test_a_refused_load_names_the_open_modules_as_the_fix(tmp_path):
    result = gds.verdict(_probe(tmp_path, dmesg="dmesg_nvidia_fs_gpl_refusal.txt"), "disabled")
    assert result["verdict"] == "FAIL"
    assert "nvidia_driver_kernel_module_type=open" in result["detail"]


def test_check_mode_is_unknown_where_nothing_is_installed_or_loaded_yet(tmp_path):
    assert gds.verdict(_probe(tmp_path / "a", modinfo=None), "enabled", check_mode=True)["verdict"] == "UNKNOWN"
    assert gds.verdict(_probe(tmp_path / "b"), "disabled", check_mode=True)["verdict"] == "UNKNOWN"
