"""The nvidia_driver role's open-module kernel gate (tasks/open_kernel_gate.yml), run as the role's own tasks
with the headers' declarations injected (tests/fixtures/role_tasks.py): open, asked for or auto's choice,
stops before anything is installed when a target kernel is one the open module is known not to build
against (Debian 12's security kernel for bookworm's 535.261.03), with the kernel, the version and the ways
out; the proprietary way only where it can drive the GPUs. The declarations are those of Debian's real
headers (tests/unit/plugins/plugin_utils/test_nvidia_open_kernels.py)."""

from __future__ import annotations

from tests.fixtures.role_tasks import run_tasks
from tests.unit.plugins.plugin_utils.test_nvidia_open_kernels import POINT_RELEASE, SECURITY

SECURITY_KERNEL = "6.1.0-57-amd64"
GATE = ("Resolve the target kernels the open module is known not to build against",
        "Stop before installing an open module that does not build against a target kernel")


def _case(requested, declarations, models=(), reason="open as requested"):
    return {"nvidia_driver_kernel_module_type": requested, "nvidia_driver_branch": "535",
            "nvidia_driver_gpu_models": list(models), "nvidia_driver__probe": {"gpus": []},
            "nvidia_driver__open_module_version": "535.261.03",
            "nvidia_driver__open_version_package": "nvidia-open-kernel-dkms",
            "nvidia_driver__flavour": {"type": "open", "ok": True, "reason": reason},
            "nvidia_driver__open_kernel_declarations": {"results": [
                {"item": kernel, "rc": 0 if text else 3, "stdout": text} for kernel, text in declarations.items()]}}


def test_open_stops_on_a_kernel_it_does_not_build_against_naming_the_ways_out(tmp_path):
    result = run_tasks(tmp_path, "nvidia_driver", "open_kernel_gate.yml", GATE, {
        "security": _case("open", {SECURITY_KERNEL: SECURITY}),
        "both": _case("open", {"6.1.0-50-amd64": POINT_RELEASE, SECURITY_KERNEL: SECURITY}),
        "grace-hopper": _case("auto", {SECURITY_KERNEL: SECURITY}, models=["GH200"],
                              reason="auto: Grace Hopper needs the open kernel modules"),
        "point-release": _case("open", {"6.1.0-50-amd64": POINT_RELEASE}),
        "no-headers": _case("open", {SECURITY_KERNEL: ""}),
    }, "nvidia_driver__open_build_blockers")
    stopped, blockers = result["security"]
    assert stopped.startswith("security: the open NVIDIA kernel module 535.261.03 (nvidia-open-kernel-dkms) does"
                              f" not build against kernel {SECURITY_KERNEL}: its headers")
    assert "too few arguments to function 'pci_resize_resource'" in stopped
    assert "'pci_resize_resource'\"). Nothing was installed" in stopped
    assert "nvidia_driver_kernel_module_type=proprietary" in stopped and "6.1.0-50-amd64" in stopped
    assert [b["kernel"] for b in blockers] == [SECURITY_KERNEL]
    # The kernel it builds against is not named as a problem.
    stopped, blockers = result["both"]
    assert [b["kernel"] for b in blockers] == [SECURITY_KERNEL] and "kernel 6.1.0-50-amd64:" not in stopped
    # auto's open for a GPU that needs it: its reason, and no proprietary way out.
    stopped, _ = result["grace-hopper"]
    assert "nvidia_driver_kernel_module_type=auto, auto: Grace Hopper needs the open kernel modules" in stopped
    assert "=proprietary" not in stopped and "The way out: run a kernel" in stopped
    assert "The proprietary flavour cannot drive these GPUs" in stopped
    assert result["point-release"] == (None, [])
    assert result["no-headers"] == (None, [])
