"""Filters for the nvidia_driver role: the kernel-module flavour, the GPUs the SKU table knows, fabric
manager packages and fabric state.

A thin shim: the logic is plugins/plugin_utils/nvidia_driver.py (over nvidia_skus.py, nvidia_fabric.py and
the SKU table nvidia_gpu_skus.json), imported by the unit tests and by the CLI's validate as plain Python.
"""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.nvidia_driver import FILTERS


class FilterModule:
    def filters(self):
        return dict(FILTERS)
