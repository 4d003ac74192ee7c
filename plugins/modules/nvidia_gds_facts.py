#!/usr/bin/python
# Apache-2.0. Read-only GPUDirect Storage probe: Python 3.8+ standard library only (runs on targets).
"""Read-only probe for the nvidia_driver role's GPUDirect Storage step: nvidia-fs.ko for the running kernel
(installed, version, signer and whether the kernel holds its key), loaded, /proc/driver/nvidia-fs, and the
verdict. The reading is module_utils/gds.py."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_gds_facts
short_description: Probe and judge GPUDirect Storage's nvidia-fs kernel module (read-only)
description:
  - Runs C(modinfo) (and C(dmesg) when the module is installed but not loaded) and reads C(/proc/keys),
    C(/sys/module) and C(/proc/driver/nvidia-fs); changes nothing.
options:
  root:
    description: Filesystem root to read from (tests point it at a fixture tree).
    type: path
    default: /
  kernel:
    description: Kernel release whose module is read (the running one).
    type: str
    required: true
  module_name:
    description: Name of the GPUDirect Storage kernel module.
    type: str
    default: nvidia-fs
  secure_boot:
    description: Secure Boot state (enabled, disabled, unsupported, unknown) the verdict is judged under.
    type: str
    default: unknown
"""

EXAMPLES = r"""
- name: Probe nvidia-fs
  autoglm.provision.nvidia_gds_facts:
    kernel: "{{ ansible_facts.kernel }}"
    secure_boot: enabled
  register: gds
"""

RETURN = r"""
module:
  description: The module (name, file, version, signature, loaded, proc, gpl_refusals); file null when not installed.
  returned: always
  type: dict
verdict:
  description: PASS, FAIL or UNKNOWN (check mode, nothing installed or loaded yet).
  returned: always
  type: str
detail:
  description: What the verdict rests on, and the fix for a FAIL.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils import gds
from ansible_collections.autoglm.provision.plugins.module_utils.probe_commands import tolerant_runner


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "kernel": {"type": "str", "required": True},
            "module_name": {"type": "str", "default": "nvidia-fs"},
            "secure_boot": {"type": "str", "default": "unknown"},
        },
        supports_check_mode=True,
    )

    run = tolerant_runner(module)

    params = module.params
    found = gds.probe(params["root"], params["kernel"], params["module_name"], run)
    module.exit_json(changed=False, module=found, **gds.verdict(found, params["secure_boot"], module.check_mode))


if __name__ == "__main__":
    main()
