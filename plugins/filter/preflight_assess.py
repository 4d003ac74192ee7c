"""Filters for the preflight role's verdict: measurements against the requirement thresholds.

A thin shim: the logic is plugins/plugin_utils/preflight_assess.py, imported by the unit tests as a plain
Python module (ansible_collections.autoglm.provision.plugins.plugin_utils.preflight_assess).
"""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.preflight_assess import (
    preflight_assess,
    preflight_threshold_problems,
)


class FilterModule:
    def filters(self):
        return {"preflight_assess": preflight_assess, "preflight_threshold_problems": preflight_threshold_problems}
