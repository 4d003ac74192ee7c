"""plugin_utils/nvidia_gpudirect.py: the GPUDirect RDMA path, the verdict after loading and what changed
since the last verification, over probes read from fixture hosts (tests/fixtures/gpudirect_host.py:
synthesized sysfs trees, real ofed_info/modinfo/dmesg outputs)."""

from __future__ import annotations

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import gpudirect
from ansible_collections.autoglm.provision.plugins.plugin_utils import nvidia_gpudirect as choice

from tests.fixtures.gpudirect_host import KERNEL, host, tools


def _probe(tmp_path, *, dmesg=None, modinfo="modinfo_nv_peer_mem.txt", **tree):
    return gpudirect.probe(str(host(tmp_path, **tree)), KERNEL, "nvidia-peermem", tools(modinfo=modinfo, dmesg=dmesg))


def test_no_rdma_nic_needs_no_path_whatever_is_requested(tmp_path):
    probe = _probe(tmp_path, lspci=None)
    for requested in ("auto", "dmabuf", "peermem"):
        decision = choice.gpudirect_choice(requested, probe, "proprietary", "enabled", KERNEL)
        assert (decision["path"], decision["ok"]) == ("none", True)
        assert decision["reason"].startswith("none needed: no RDMA-capable NIC")


def test_off_sets_up_nothing_even_with_a_nic(tmp_path):
    decision = choice.gpudirect_choice("off", _probe(tmp_path), "open", "disabled", KERNEL)
    assert decision == {"path": "none", "ok": True, "reason": "off: nvidia_driver_gpudirect=off", "remediation": ""}


def test_auto_takes_dmabuf_with_open_modules_on_a_p2pdma_kernel(tmp_path):
    decision = choice.gpudirect_choice("auto", _probe(tmp_path), "open", "enabled", KERNEL)
    assert (decision["path"], decision["ok"]) == ("dmabuf", True)
    assert "0000:b3:00.0" in decision["reason"] and "CONFIG_PCI_P2PDMA" in decision["reason"]


@pytest.mark.parametrize(("module_type", "p2pdma", "why"), [
    ("proprietary", True, "the NVIDIA kernel module is proprietary, not open"),
    ("open", False, "the kernel is built without CONFIG_PCI_P2PDMA (/boot/config-6.8.0-45-generic)"),
    ("open", None, "the kernel configuration could not be read"),
])
def test_auto_falls_back_to_peermem_and_says_why_not_dmabuf(tmp_path, module_type, p2pdma, why):
    decision = choice.gpudirect_choice("auto", _probe(tmp_path, p2pdma=p2pdma), module_type, "disabled", KERNEL)
    assert (decision["path"], decision["ok"]) == ("peermem", True)
    assert f"(not DMA-BUF: {why}" in decision["reason"]


def test_dmabuf_requested_on_proprietary_modules_fails_with_the_fix(tmp_path):
    decision = choice.gpudirect_choice("dmabuf", _probe(tmp_path), "proprietary", "disabled", KERNEL)
    assert (decision["path"], decision["ok"]) == ("dmabuf", False)
    assert "nvidia_driver_kernel_module_type=open" in decision["remediation"]


def test_peermem_built_against_another_ofed_fails_with_rebuild(tmp_path):
    probe = _probe(tmp_path, p2pdma=False, dmesg="dmesg_peermem_symbol_mismatch.txt")
    decision = choice.gpudirect_choice("auto", probe, "open", "disabled", KERNEL)
    assert (decision["path"], decision["ok"]) == ("peermem", False)
    assert "disagrees about version of symbol ib_register_peer_memory_client" in decision["reason"]
    assert decision["remediation"].startswith("rebuild nvidia-peermem against the installed RDMA stack")
    assert f"dkms install nvidia/<version> -k {KERNEL}" in decision["remediation"]


def test_a_loaded_peermem_is_not_judged_by_old_kernel_log_lines(tmp_path):
    probe = _probe(tmp_path, p2pdma=False, dmesg="dmesg_peermem_symbol_mismatch.txt", peermem_loaded=True)
    assert choice.gpudirect_choice("peermem", probe, "proprietary", "disabled", KERNEL)["ok"]


def test_peermem_missing_or_unsigned_under_secure_boot_fails(tmp_path):
    missing = choice.gpudirect_choice("peermem", _probe(tmp_path, modinfo=None), "open", "disabled", KERNEL)
    assert not missing["ok"] and f"nvidia-peermem is not installed for kernel {KERNEL}" in missing["reason"]
    # modinfo_nv_peer_mem.txt: a DKMS build with an empty signer.
    unsigned = choice.gpudirect_choice("peermem", _probe(tmp_path / "sb"), "open", "enabled", KERNEL)
    assert not unsigned["ok"] and "unsigned and Secure Boot is on" in unsigned["reason"]
    assert "enrolled MOK" in unsigned["remediation"]
    assert choice.gpudirect_choice("peermem", _probe(tmp_path / "nosb"), "open", "disabled", KERNEL)["ok"]


def test_verdict_of_peermem_needs_the_module_and_nv_mem(tmp_path):
    chosen = {"path": "peermem", "ok": True, "reason": "auto"}
    loaded = _probe(tmp_path / "ok", peermem_loaded=True, nv_mem=True)
    assert choice.gpudirect_verdict(chosen, loaded)["verdict"] == "PASS"
    no_peer_api = _probe(tmp_path / "inbox", peermem_loaded=True)
    assert "nv_mem is not registered" in choice.gpudirect_verdict(chosen, no_peer_api)["detail"]
    refused = choice.gpudirect_verdict(chosen, _probe(tmp_path / "stale", dmesg="dmesg_peermem_symbol_mismatch.txt"))
    assert refused["verdict"] == "FAIL" and "rebuild nvidia-peermem" in refused["detail"]
    inbox = gpudirect.probe(str(host(tmp_path / "no-ofed")), KERNEL, "nvidia-peermem", tools(ofed=None))
    assert "no MLNX_OFED/DOCA-OFED found" in choice.gpudirect_verdict(chosen, inbox)["detail"]
    unexplained = choice.gpudirect_verdict(chosen, _probe(tmp_path / "other"))["detail"]
    assert unexplained == "nvidia-peermem did not load: see `dmesg | grep -i peermem` and `modprobe -v nvidia-peermem`"
    not_yet = choice.gpudirect_verdict(chosen, _probe(tmp_path / "check"), check_mode=True)
    assert not_yet["verdict"] == "UNKNOWN"


def test_verdict_of_dmabuf_and_of_no_path(tmp_path):
    probe = _probe(tmp_path)
    dmabuf = {"path": "dmabuf", "ok": True, "reason": "auto"}
    assert choice.gpudirect_verdict(dmabuf, probe, "open")["verdict"] == "PASS"
    assert choice.gpudirect_verdict(dmabuf, probe, "proprietary")["verdict"] == "FAIL"
    none = {"path": "none", "ok": True, "reason": "none needed: no RDMA-capable NIC"}
    assert choice.gpudirect_verdict(none, {}) == {"verdict": "NOT_APPLICABLE", "detail": none["reason"]}


def test_changes_since_the_last_verification():
    record = {"path": "peermem", "kernel": "6.8.0-40-generic", "stack": "MLNX_OFED_LINUX-23.10-1.1.9.0"}
    assert choice.gpudirect_changes(record, KERNEL, "MLNX_OFED_LINUX-24.10-0.7.0.0") == [
        f"kernel 6.8.0-40-generic -> {KERNEL}",
        "RDMA stack MLNX_OFED_LINUX-23.10-1.1.9.0 -> MLNX_OFED_LINUX-24.10-0.7.0.0"]
    assert choice.gpudirect_changes({**record, "kernel": KERNEL}, KERNEL, record["stack"]) == []
    assert choice.gpudirect_changes(None, KERNEL, "x") == []


@pytest.mark.parametrize(("requested", "flavour", "branch", "problem"), [
    ("dmabuf", "proprietary", "535", "nvidia_driver_kernel_module_type=proprietary"),
    ("dmabuf", "auto", "470", "start at branch 515"),
    ("sometimes", "auto", "535", "is not one of auto, dmabuf, peermem, off"),
    ("dmabuf", "open", "535", None),
    ("peermem", "proprietary", "535", None),
])
def test_request_problems_need_no_host(requested, flavour, branch, problem):
    found = choice.request_problem(requested, flavour, branch)
    assert (found is None) if problem is None else (problem in found)
