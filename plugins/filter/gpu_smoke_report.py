"""Filters for the gpu_smoke role's per-GPU key figures for the run report.

A thin shim: the logic is plugins/plugin_utils/gpu_smoke_report.py, imported by the unit tests as a plain
Python module (ansible_collections.autoglm.provision.plugins.plugin_utils.gpu_smoke_report).
"""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.gpu_smoke_report import gpu_smoke_key_figures


class FilterModule:
    def filters(self):
        return {"gpu_smoke_key_figures": gpu_smoke_key_figures}
