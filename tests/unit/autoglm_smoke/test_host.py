"""The GPU smoke-test program's view of the host outside NVML: GPUs on the PCI bus, XIDs from
the kernel log. Fakes: tests/fixtures/smoke_fakes.py (what is faked and why)."""

from __future__ import annotations

from autoglm_smoke import host
from tests.fixtures.smoke_fakes import healthy_gpu, make_sysfs, run, verdicts


# --- GPUs on the PCI bus --------------------------------------------------------------------------
def test_pci_scan_counts_gpus_only(tmp_path):
    sysfs = make_sysfs(tmp_path, {
        "0000:3b:00.0": ("0x10de", "0x030200"),  # 3D controller (datacenter GPU)
        "0000:65:00.0": ("0x10de", "0x030000"),  # VGA controller (workstation GPU)
        "0000:65:00.1": ("0x10de", "0x040300"),  # its HDMI audio function
        "0000:c1:00.0": ("0x10de", "0x068000"),  # NVSwitch
        "0000:00:02.0": ("0x8086", "0x030000"),  # Intel iGPU
    })
    assert host.scan_pci_gpus(str(sysfs)) == ["0000:3b:00.0", "0000:65:00.0"]


# --- XIDs from the kernel log -------------------------------------------------------------------
XID_LOG = """\
[  12.3] nvidia: loading out-of-tree module taints kernel.
[ 812.1] NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.
[ 900.2] NVRM: Xid (PCI:0000:5e:00): 13, pid=4321, name=python3, Graphics Exception
"""


def test_xid_parsing_maps_bus_ids():
    events = host.parse_xids(XID_LOG)
    assert [(e["bus"], e["xid"], e["hardware"]) for e in events] == [("3b:00", 79, True), ("5e:00", 13, False)]


def test_hardware_xid_on_this_gpu_fails(tmp_path):
    c = verdicts(run(tmp_path, log=XID_LOG))["xid_events"]
    assert c["verdict"] == "fail" and "fell off the bus" in c["detail"]


def test_application_xid_warns_and_other_gpus_xids_do_not_count(tmp_path):
    gpu = healthy_gpu(bus="00000000:5E:00.0")
    assert verdicts(run(tmp_path / "a", gpus=[gpu], log=XID_LOG))["xid_events"]["verdict"] == "warn"
    other = healthy_gpu(bus="00000000:AF:00.0")
    assert verdicts(run(tmp_path / "b", gpus=[other], log=XID_LOG))["xid_events"]["verdict"] == "pass"


def test_unreadable_kernel_log_warns(tmp_path):
    c = verdicts(run(tmp_path, log=None))["xid_events"]
    assert c["verdict"] == "warn" and "not permitted" in c["detail"]
