"""Filter: a host name as a file name that stays in its directory (``autoglm.provision.host_file_name``).

A thin shim: the logic is plugins/plugin_utils/host_files.py, which the CLI imports too
(ansible_collections.autoglm.provision.plugins.plugin_utils.host_files).
"""

from __future__ import annotations

from ansible_collections.autoglm.provision.plugins.plugin_utils.host_files import host_file_name


class FilterModule:
    def filters(self):
        return {"host_file_name": host_file_name}
