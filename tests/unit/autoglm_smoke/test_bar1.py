"""BAR1 as the kernel assigned it (sysfs resource file) against NVML's BAR1 total
(autoglm_smoke/bar1.py). The resource files are written in the kernel's format (start, end, flags
per BAR, 0x0 for an unassigned one); the real one of the lent H100 is quoted in docs/gpu-smoke.md."""

from __future__ import annotations

from types import SimpleNamespace

from autoglm_smoke import bar1
from autoglm_smoke.verdicts import annotate

GIB = 1 << 30
ASSIGNED = (
    "0x00000000c0000000 0x00000000c0ffffff 0x0000000000040200\n"
    "0x0000220000000000 0x0000221fffffffff 0x000000000014220c\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000222000000000 0x0000222001ffffff 0x000000000014220c\n"
)
UNASSIGNED = ASSIGNED.replace("0x0000220000000000 0x0000221fffffffff 0x000000000014220c", "0x0 0x0 0x0")


def sysfs_with(tmp_path, text, bdf="0000:18:00.0"):
    (tmp_path / bdf).mkdir()
    (tmp_path / bdf / "resource").write_text(text)
    return str(tmp_path)


def code_of(c):
    return annotate({"host_checks": [], "gpus": [{"checks": [c]}]})["gpus"][0]["checks"][0].get("code")


def test_bar1_size_is_read_from_the_kernels_resource_file(tmp_path):
    root = sysfs_with(tmp_path, ASSIGNED)
    assert bar1.sysfs_bar1_bytes("00000000:18:00.0", sysfs=root) == (128 * GIB, None)
    size, why = bar1.sysfs_bar1_bytes("00000000:3B:00.0", sysfs=root)
    assert size is None and "0000:3b:00.0/resource" in why


def test_equal_sizes_pass_and_an_unassigned_bar_fails_with_its_code(tmp_path):
    ok = bar1.evaluate_bar1({"nvml_bytes": 128 * GIB, "sysfs_bytes": 128 * GIB, "unreadable": None})
    assert ok["verdict"] == "pass" and ok["measured"] == {"nvml_mib": 131072, "sysfs_mib": 131072}
    size, _ = bar1.sysfs_bar1_bytes("00000000:18:00.0", sysfs=sysfs_with(tmp_path, UNASSIGNED))
    bad = bar1.evaluate_bar1({"nvml_bytes": 128 * GIB, "sysfs_bytes": size, "unreadable": None})
    assert bad["verdict"] == "fail" and "no BAR1 assigned" in bad["detail"] and code_of(bad) == "GPU_BAR1_UNASSIGNED"


def test_a_smaller_window_fails_and_a_different_one_is_reported():
    small = bar1.evaluate_bar1({"nvml_bytes": 128 * GIB, "sysfs_bytes": 256 << 20, "unreadable": None})
    assert small["verdict"] == "fail" and "BAR1 256 MiB assigned, the driver uses 131072 MiB" in small["detail"]
    other = bar1.evaluate_bar1({"nvml_bytes": 64 * GIB, "sysfs_bytes": 128 * GIB, "unreadable": None})
    assert other["verdict"] == "warn" and code_of(other) == "GPU_BAR1_MISMATCH"


def test_unreadable_sides_skip_and_say_why():
    nvml = SimpleNamespace()  # a binding without nvmlDeviceGetBAR1MemoryInfo
    facts = bar1.bar1_facts(nvml, None, None)
    c = bar1.evaluate_bar1(facts)
    assert c["verdict"] == "skip" and "nvmlDeviceGetBAR1MemoryInfo" in c["detail"]
