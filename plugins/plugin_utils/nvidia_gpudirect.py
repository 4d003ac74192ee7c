"""The GPUDirect RDMA path of a host and its verification, as pure functions over the probe
(plugins/module_utils/gpudirect.py, through the nvidia_gpudirect_facts module): the nvidia_driver role's
filters and the CLI's validate use them as plain Python.

Two kernel paths give an RDMA NIC access to GPU memory: DMA-BUF (the kernel's buffer sharing; needs the
open GPU kernel modules and a kernel built with CONFIG_PCI_P2PDMA; nothing extra to load, nothing built
against the RDMA stack) and the legacy nvidia-peermem module (registers with the peer-memory API that
MLNX_OFED/DOCA-OFED's ib_core exports, so it must be built against that exact ib_core and breaks when the
stack is updated: "disagrees about version of symbol ib_register_peer_memory_client"). NVIDIA recommends
DMA-BUF where it is supported.
"""

from __future__ import annotations

REQUESTS = ("auto", "dmabuf", "peermem", "off")
REBUILD = ("rebuild {module} against the installed RDMA stack: reinstall the NVIDIA driver's DKMS module "
           "(dkms remove nvidia/<version> -k {kernel} && dkms install nvidia/<version> -k {kernel}) or the "
           "precompiled package built for this OFED/DOCA release, then modprobe {module}")


def request_problem(requested: str, module_type: str, branch: str = "") -> str | None:
    """Why a request cannot work whatever the host, from the inventory alone (None: it may)."""
    if requested not in REQUESTS:
        return f"is not one of {', '.join(REQUESTS)}"
    if requested == "dmabuf" and module_type == "proprietary":
        return ("DMA-BUF needs the open GPU kernel modules, but nvidia_driver_kernel_module_type=proprietary: "
                "set nvidia_driver_kernel_module_type=open (or auto), or nvidia_driver_gpudirect=peermem")
    if requested == "dmabuf" and branch.isdigit() and int(branch) < 515:
        return f"DMA-BUF needs the open GPU kernel modules, which start at branch 515 (nvidia_driver_branch={branch})"
    return None


def _dmabuf_gaps(probe: dict, module_type: str | None) -> list[str]:
    """What stops DMA-BUF on this host ([] when nothing does)."""
    gaps = []
    if module_type != "open":
        gaps.append(f"the NVIDIA kernel module is {module_type or 'unknown'}, not open")
    if probe.get("p2pdma") != "y":
        gaps.append("the kernel configuration could not be read (no /boot/config-<kernel>, no /proc/config.gz)"
                    if probe.get("p2pdma") is None else
                    f"the kernel is built without CONFIG_PCI_P2PDMA ({probe.get('kernel_config')})")
    return gaps


def _peermem_gaps(probe: dict, secure_boot: str, kernel: str) -> tuple[list[str], str]:
    """What stops nvidia-peermem on this host, and the fix ([] and '' when nothing does)."""
    peermem = probe.get("peermem") or {}
    module = peermem.get("name") or "nvidia-peermem"
    if peermem.get("loaded"):
        return [], ""
    if not peermem.get("file"):
        return [f"{module} is not installed for kernel {kernel}"], (
            f"install the NVIDIA driver with its {module} module for kernel {kernel} (it is built with the driver "
            "when the RDMA stack's headers are present), after MLNX_OFED/DOCA-OFED")
    if probe.get("symbol_mismatches"):
        return [f"{module} was built against another RDMA stack: the kernel log says it disagrees about "
                f"version of symbol {', '.join(probe['symbol_mismatches'])} (OFED/DOCA updated after it was built)"
                ], REBUILD.format(module=module, kernel=kernel)
    if secure_boot == "enabled" and not peermem.get("signer"):
        return [f"{module} ({peermem['file']}) is unsigned and Secure Boot is on"], (
            f"sign {module} with the enrolled MOK (nvidia_driver_dkms_signing_key/cert, "
            "nvidia_driver_dkms_mok_enrolled) or use Canonical's signed precompiled modules")
    return [], ""


def gpudirect_choice(requested, probe, module_type=None, secure_boot="unknown", kernel=""):
    """{path: none|dmabuf|peermem, ok, reason, remediation}: the path this host takes, or why it cannot."""
    probe = probe or {}
    nics = [n.get("slot") for n in probe.get("nics") or []] + list(probe.get("ib_devices") or [])
    if requested == "off":
        return {"path": "none", "ok": True, "reason": "off: nvidia_driver_gpudirect=off", "remediation": ""}
    if not nics:
        return {"path": "none", "ok": True, "remediation": "",
                "reason": "none needed: no RDMA-capable NIC (no ConnectX/BlueField Ethernet or InfiniBand "
                          "function, no /sys/class/infiniband device)"}
    found = f"RDMA NIC(s) {', '.join(nics)}"
    dmabuf_gaps = _dmabuf_gaps(probe, module_type)
    if requested in ("auto", "dmabuf") and not dmabuf_gaps:
        return {"path": "dmabuf", "ok": True, "remediation": "",
                "reason": f"{requested}: {found}, open kernel modules, kernel with CONFIG_PCI_P2PDMA"}
    if requested == "dmabuf":
        return {"path": "dmabuf", "ok": False, "reason": f"dmabuf requested: {'; '.join(dmabuf_gaps)}",
                "remediation": "install the open kernel modules (nvidia_driver_kernel_module_type=open) on a "
                               "kernel built with CONFIG_PCI_P2PDMA, or set nvidia_driver_gpudirect=peermem"}
    peermem_gaps, fix = _peermem_gaps(probe, secure_boot, kernel)
    why_not_dmabuf = f" (not DMA-BUF: {'; '.join(dmabuf_gaps)})" if requested == "auto" else ""
    if not peermem_gaps:
        return {"path": "peermem", "ok": True, "remediation": "",
                "reason": f"{requested}: {found}, {probe['peermem'].get('name', 'nvidia-peermem')} "
                          f"loadable{why_not_dmabuf}"}
    return {"path": "peermem", "ok": False, "remediation": fix,
            "reason": f"{requested}: {found}: {'; '.join(peermem_gaps)}{why_not_dmabuf}"}


def gpudirect_changes(recorded, kernel, stack_id):
    """What changed since the last verified record: kernel and RDMA stack ([] when nothing or no record)."""
    if not isinstance(recorded, dict):
        return []
    changes = []
    if recorded.get("kernel") and recorded["kernel"] != kernel:
        changes.append(f"kernel {recorded['kernel']} -> {kernel}")
    if recorded.get("stack") and recorded["stack"] != stack_id:
        changes.append(f"RDMA stack {recorded['stack']} -> {stack_id}")
    return changes


def gpudirect_verdict(choice, probe, module_type=None, check_mode=False):
    """{verdict: PASS|FAIL|UNKNOWN|NOT_APPLICABLE, detail}: the chosen path checked on the host after
    loading what it needs (the probe read again)."""
    probe, path = probe or {}, (choice or {}).get("path")
    if path == "none":
        return {"verdict": "NOT_APPLICABLE", "detail": choice.get("reason", "")}
    if path == "dmabuf":
        gaps = _dmabuf_gaps(probe, module_type)
        return ({"verdict": "PASS", "detail": "open kernel module loaded, kernel with CONFIG_PCI_P2PDMA: "
                                              "DMA-BUF registration available, no module to load"}
                if not gaps else {"verdict": "FAIL", "detail": "; ".join(gaps)})
    peermem = probe.get("peermem") or {}
    if peermem.get("loaded") and peermem.get("nv_mem"):
        return {"verdict": "PASS", "detail": f"{peermem.get('name')} loaded, nv_mem registered "
                                             "(/sys/kernel/mm/memory_peers/nv_mem)"}
    if check_mode and not peermem.get("loaded"):
        return {"verdict": "UNKNOWN", "detail": f"check mode: {peermem.get('name')} would be loaded"}
    if peermem.get("loaded"):
        return {"verdict": "FAIL", "detail": f"{peermem.get('name')} is loaded but nv_mem is not registered "
                                             "(/sys/kernel/mm/memory_peers/nv_mem missing): ib_core lacks the "
                                             "peer-memory API (inbox RDMA stack without it, or not MLNX_OFED/DOCA)"}
    return {"verdict": "FAIL", "detail": f"{peermem.get('name')} did not load: {_load_failure(probe)}"}


def _load_failure(probe: dict) -> str:
    """Why the peer-memory module did not load, from the kernel log and the RDMA stack."""
    module = (probe.get("peermem") or {}).get("name")
    if probe.get("symbol_mismatches"):
        return (f"disagrees about version of symbol {', '.join(probe['symbol_mismatches'])}; "
                + REBUILD.format(module=module, kernel="$(uname -r)"))
    if not (probe.get("stack") or {}).get("ofed"):
        # nvidia-peermem's init fails (EINVAL) when it was built without the peer-memory symbols, which only
        # MLNX_OFED/DOCA-OFED's ib_core exports (open-gpu-kernel-modules#630 logs it since).
        return ("no MLNX_OFED/DOCA-OFED found (ofed_info -s): the distro's ib_core has no peer-memory API; install "
                f"MLNX_OFED/DOCA-OFED and then rebuild {module}, or use DMA-BUF (open kernel modules, "
                "CONFIG_PCI_P2PDMA)")
    return f"see `dmesg | grep -i peermem` and `modprobe -v {module}`"


FILTERS = {
    "nvidia_gpudirect_choice": gpudirect_choice,
    "nvidia_gpudirect_changes": gpudirect_changes,
    "nvidia_gpudirect_verdict": gpudirect_verdict,
}
