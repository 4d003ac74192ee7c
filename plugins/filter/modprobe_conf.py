"""Filters for the modprobe role's validated modprobe.d(5) lines.

A thin shim: the logic is plugins/plugin_utils/modprobe_conf.py, imported by the unit tests as a plain
Python module (ansible_collections.autoglm.provision.plugins.plugin_utils.modprobe_conf).
"""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.modprobe_conf import modprobe_conf_lines


class FilterModule:
    def filters(self):
        return {"modprobe_conf_lines": modprobe_conf_lines}
