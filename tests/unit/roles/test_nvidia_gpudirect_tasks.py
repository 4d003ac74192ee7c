"""The nvidia_driver role's GPUDirect RDMA tasks (tasks/gpudirect.yml), run for real over a local connection
(tests/fixtures/role_tasks.py) with the probe's results injected: the probe is module_utils/gpudirect.py read
on fixture hosts (tests/fixtures/gpudirect_host.py: SYNTHESIZED sysfs trees, real ofed_info/modinfo/dmesg
outputs). Loading nvidia-peermem (community.general.modprobe) and writing the record need root and a
ConnectX host: not run here (docs/nvidia-driver.md, "GPUDirect RDMA", says what a VM or GPU host run adds)."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible_collections.autoglm.provision.plugins.module_utils import gpudirect

from provisioner import paths
from tests.fixtures.gpudirect_host import KERNEL, host, tools
from tests.fixtures.role_tasks import run_tasks

CHOOSE = ("Resolve whether GPUDirect can be set up now and which kernel module flavour runs",
          "Choose the GPUDirect RDMA path", "Fail when the host needs a GPUDirect path it cannot take")
VERIFY = ("Verify the GPUDirect RDMA path", "Fail when the chosen GPUDirect RDMA path does not work")


def _probe(root, dmesg=None, **tree):
    return gpudirect.probe(str(host(root, **tree)), KERNEL, "nvidia-peermem", tools(dmesg=dmesg))


def _run_dir(tmp_path):
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


def _case(probe, requested="auto", loaded_type="open", in_container=False, needs_reboot=False):
    return {"nvidia_driver_gpudirect": requested, "nvidia_driver__in_container": in_container,
            "nvidia_driver__needs_reboot": needs_reboot, "nvidia_driver__reboot": {},
            "nvidia_driver__kernel_module_type": "open", "facts": {"kernel": KERNEL},
            "nvidia_driver__probe": {"loaded_module_type": loaded_type, "secure_boot": "disabled"},
            "nvidia_driver__gpudirect_probe": probe}


def test_the_role_chooses_the_path_and_stops_a_host_that_cannot_take_one(tmp_path):
    old = {"path": "peermem", "kernel": KERNEL, "stack": "MLNX_OFED_LINUX-4.6-1.0.1.1"}
    result = run_tasks(_run_dir(tmp_path), "nvidia_driver", "gpudirect.yml", CHOOSE, {
        "dmabuf": _case(_probe(tmp_path / "a", recorded=old)),
        "peermem": _case(_probe(tmp_path / "b"), loaded_type="proprietary"),
        "stale-peermem": _case(_probe(tmp_path / "c", p2pdma=False, dmesg="dmesg_peermem_symbol_mismatch.txt")),
        "no-nic": _case(_probe(tmp_path / "d", lspci=None)),
        "reboot-pending": _case({"skipped": True}, needs_reboot=True),
        "container": _case({"skipped": True}, in_container=True),
        "off": _case({"skipped": True}, requested="off"),
    }, "[nvidia_driver__gpudirect, nvidia_driver__gpudirect_changes]")
    paths = {name: (stopped is not None, out[0]["path"]) for name, (stopped, out) in result.items()}
    assert paths == {"dmabuf": (False, "dmabuf"), "peermem": (False, "peermem"), "stale-peermem": (True, "peermem"),
                     "no-nic": (False, "none"), "reboot-pending": (False, "unknown"), "container": (False, "unknown"),
                     "off": (False, "none")}
    assert result["dmabuf"][1][1] == ["RDMA stack MLNX_OFED_LINUX-4.6-1.0.1.1 -> "
                                      "MLNX_OFED_LINUX-4.7-1.0.0.1 / ib_core 7A5DFE4E6B3D3E0A1C3B2F1"]
    assert "not DMA-BUF: the NVIDIA kernel module is proprietary" in result["peermem"][1][0]["reason"]
    stopped = result["stale-peermem"][0]
    assert "disagrees about version of symbol ib_register_peer_memory_client" in stopped
    assert "Fix: rebuild nvidia-peermem against the installed RDMA stack" in stopped
    assert "nvidia_driver_gpudirect=off" in stopped
    assert result["reboot-pending"][1][0]["reason"].startswith("not set up: reboot pending")


def test_the_role_verifies_the_chosen_path_after_loading(tmp_path):
    peermem = {"path": "peermem", "ok": True, "reason": "auto"}

    def case(chosen, after, module_type="open"):
        return {"nvidia_driver__gpudirect": chosen, "nvidia_driver__gpudirect_after": after,
                "nvidia_driver__gpudirect_module_type": module_type, "nvidia_driver__gpudirect_changes": []}

    result = run_tasks(_run_dir(tmp_path), "nvidia_driver", "gpudirect.yml", VERIFY, {
        "peermem-ok": case(peermem, _probe(tmp_path / "a", peermem_loaded=True, nv_mem=True)),
        "peermem-refused": case(peermem, _probe(tmp_path / "b", dmesg="dmesg_peermem_symbol_mismatch.txt")),
        "dmabuf-ok": case({"path": "dmabuf", "ok": True, "reason": "auto"}, _probe(tmp_path / "c")),
        "none": case({"path": "none", "ok": True, "reason": "none needed: no RDMA-capable NIC"}, {"skipped": True}),
    }, "nvidia_driver__gpudirect_verdict")
    verdicts = {name: (stopped is not None, out["verdict"]) for name, (stopped, out) in result.items()}
    assert verdicts == {"peermem-ok": (False, "PASS"), "peermem-refused": (True, "FAIL"),
                        "dmabuf-ok": (False, "PASS"), "none": (False, "NOT_APPLICABLE")}
    assert "GPUDirect RDMA peermem does not work: nvidia-peermem did not load" in result["peermem-refused"][0]


def test_the_whole_task_file_on_this_machine_without_an_rdma_nic_sets_up_nothing(tmp_path):
    """The real probe module on this machine's own /sys (no ConnectX here): path none, nothing loaded or
    recorded, so the modprobe and record tasks are skipped and need no root."""
    if any(gpudirect.rdma_nics("/")):
        pytest.skip("this machine has an RDMA NIC")
    text = (paths.ROLES / "nvidia_driver" / "tasks" / "gpudirect.yml").read_text()
    names = tuple(task["name"] for task in yaml.safe_load(text))
    case = {**_case({}, requested="auto"), "nvidia_driver__peermem_module": "nvidia-peermem"}
    del case["nvidia_driver__gpudirect_probe"]
    case["facts"] = {"kernel": os.uname().release}
    ((stopped, verdict),) = run_tasks(_run_dir(tmp_path), "nvidia_driver", "gpudirect.yml", names, {"here": case},
                                      "nvidia_driver__gpudirect_verdict").values()
    assert stopped is None
    assert verdict["verdict"] == "NOT_APPLICABLE" and verdict["detail"].startswith("none needed: no RDMA-capable NIC")
