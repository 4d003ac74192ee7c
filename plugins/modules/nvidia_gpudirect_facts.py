#!/usr/bin/python
# Apache-2.0. Read-only GPUDirect RDMA probe: Python 3.8+ standard library only (runs on targets).
"""Read-only probe for the nvidia_driver role's GPUDirect RDMA step: RDMA NICs, the kernel's
CONFIG_PCI_P2PDMA, nvidia-peermem (installed, signed, loaded, nv_mem registered), the RDMA stack and the
record of the last verification. The reading is module_utils/gpudirect.py."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_gpudirect_facts
short_description: Probe what a host offers for GPUDirect RDMA (read-only)
description:
  - Reads sysfs, the kernel configuration (/boot/config-<kernel> or /proc/config.gz) and the kernel log,
    and runs C(modinfo) and C(ofed_info -s); changes nothing.
options:
  root:
    description: Filesystem root to read from (tests point it at a fixture tree).
    type: path
    default: /
  kernel:
    description: Kernel release whose configuration and peer-memory module are read (the running one).
    type: str
    required: true
  peermem_module:
    description: Name of the peer-memory module (C(nvidia-peermem); Debian's renamed driver C(nvidia-current-peermem)).
    type: str
    default: nvidia-peermem
"""

EXAMPLES = r"""
- name: Probe GPUDirect RDMA
  autoglm.provision.nvidia_gpudirect_facts:
    kernel: "{{ ansible_facts.kernel }}"
  register: gpudirect
"""

RETURN = r"""
nics:
  description: ConnectX/BlueField physical functions of class Ethernet or InfiniBand (slot, device_id, link, driver).
  returned: always
  type: list
  elements: dict
ib_devices:
  description: RDMA devices the kernel registered (/sys/class/infiniband).
  returned: always
  type: list
  elements: str
p2pdma:
  description: CONFIG_PCI_P2PDMA of the kernel, y or n; null when no kernel configuration could be read.
  returned: always
  type: str
kernel_config:
  description: Where the kernel configuration was read; null when nowhere.
  returned: always
  type: str
peermem:
  description: The peer-memory module (name, file, signer, loaded, nv_mem).
  returned: always
  type: dict
symbol_mismatches:
  description: Symbols the kernel log says the module disagrees about (built against another OFED/DOCA).
  returned: always
  type: list
  elements: str
stack:
  description: The RDMA stack (ofed, ib_core_version, ib_core_srcversion, id).
  returned: always
  type: dict
recorded:
  description: The last verified record (/var/lib/autoglm/gpudirect.json); null when none.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils import gpudirect
from ansible_collections.autoglm.provision.plugins.module_utils.probe_commands import tolerant_runner


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "kernel": {"type": "str", "required": True},
            "peermem_module": {"type": "str", "default": "nvidia-peermem"},
        },
        supports_check_mode=True,
    )

    run = tolerant_runner(module)

    params = module.params
    module.exit_json(changed=False, **gpudirect.probe(params["root"], params["kernel"], params["peermem_module"], run))


if __name__ == "__main__":
    main()
