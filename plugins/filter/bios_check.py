"""Filters for the bios_check role's report: in-band and Redfish verdicts merged into one gate.

A thin shim: the logic is plugins/plugin_utils/bios_check.py, imported by the unit tests as a plain
Python module (ansible_collections.autoglm.provision.plugins.plugin_utils.bios_check).
"""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.bios_check import (
    bios_check_failure_text,
    bios_check_report,
)


class FilterModule:
    def filters(self):
        return {"bios_check_report": bios_check_report, "bios_check_failure_text": bios_check_failure_text}
