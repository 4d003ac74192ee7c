"""What the nvidia_driver role's filters (plugins/filter/nvidia_driver.py) compute: the GPUs the SKU table
knows, the kernel-module flavour, the fabric manager package and the fabric state, the GPUDirect RDMA path,
the kernels an open module source is known not to build against. The logic is nvidia_skus.py (over the SKU
table nvidia_gpu_skus.json), nvidia_fabric.py and nvidia_open_kernels.py; this module gives it the shapes
the role's tasks use."""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils import (
    nvidia_fabric,
    nvidia_gpudirect,
    nvidia_open_kernels,
    nvidia_skus,
)


def nvidia_gpu_skus(device_ids):
    """What each PCI device id is: {device_id, sku, arch, nvswitch, min_driver, known_by}."""
    found = []
    for device_id in device_ids or []:
        entry = nvidia_skus.find_device(device_id)
        row = entry.pop("row") or {}
        found.append({**entry, "nvswitch": row.get("nvswitch", False), "min_driver": row.get("min_driver")})
    return found


def nvidia_module_flavour(requested, branch, models=None, device_ids=None):
    """nvidia_skus.module_flavour over the declared models' and the found GPUs' architectures, plus
    the GPUs it judged by: {type, ok, reason, archs, gpus}."""
    archs = {row["arch"] for model in models or [] for row in nvidia_skus.find_model(model)}
    gpus = nvidia_gpu_skus(device_ids)
    archs |= {gpu["arch"] for gpu in gpus if gpu["arch"]}
    decision = nvidia_skus.module_flavour(str(requested), str(branch), sorted(archs))
    return {**decision, "archs": sorted(archs), "gpus": gpus}


FILTERS = {
    "nvidia_gpu_skus": nvidia_gpu_skus,
    "nvidia_module_flavour": nvidia_module_flavour,
    "nvidia_fabricmanager_candidates": nvidia_fabric.fabricmanager_candidates,
    "nvidia_pick_fabricmanager": nvidia_fabric.pick_fabricmanager,
    "nvidia_fabric_states": nvidia_fabric.fabric_states,
    **nvidia_gpudirect.FILTERS,
    **nvidia_open_kernels.FILTERS,
}
