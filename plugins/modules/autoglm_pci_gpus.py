#!/usr/bin/python
"""List NVIDIA GPUs on the PCI bus from sysfs (vendor 0x10de, display class); no driver needed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: autoglm_pci_gpus
short_description: NVIDIA GPUs on the PCI bus, read from sysfs
description:
  - Reads /sys/bus/pci/devices/*/{vendor,device,class}; a GPU is vendor 0x10de with PCI class
    0x0300 (VGA) or 0x0302 (3D controller) and not an SR-IOV virtual function (the collection's
    one definition, in module_utils/pci.py). NVIDIA audio functions and NVSwitches are not GPUs.
  - Read-only; works without the NVIDIA driver.
options:
  sysfs_root:
    description: Root of sysfs (tests point it at a built tree).
    type: path
    default: /sys
"""

EXAMPLES = r"""
- name: Count the NVIDIA GPUs on the PCI bus
  autoglm.provision.autoglm_pci_gpus:
  register: pci

- name: Read a captured sysfs tree instead of the live one
  autoglm.provision.autoglm_pci_gpus:
    sysfs_root: /tmp/captured/sys
"""

RETURN = r"""
pci_readable:
  description: Whether /sys/bus/pci/devices could be listed (when false, the GPU count is unknown, not
    zero).
  returned: always
  type: bool
gpus:
  description: The NVIDIA GPUs, sorted by PCI address.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: PCI address (domain:bus:device.function).
      type: str
      sample: '0000:17:00.0'
    device_id:
      description: PCI device id.
      type: str
      sample: '0x2330'
    class:
      description: PCI class.
      type: str
      sample: '0x030200'
    driver:
      description: The bound kernel driver, if any.
      type: str
      sample: nvidia
    numa_node:
      description: NUMA node from sysfs.
      type: int
      sample: 0
other_nvidia_functions:
  description: NVIDIA PCI functions that are not GPUs (audio functions, NVSwitches, virtual functions).
  returned: always
  type: int
"""

from ansible_collections.autoglm.provision.plugins.module_utils import pci


def scan(sysfs_root: str = "/sys") -> dict:
    devices = pci.scan(sysfs_root)
    if devices is None:
        return {"pci_readable": False, "gpus": [], "other_nvidia_functions": 0}
    gpus = [
        {
            "address": dev["address"],
            "device_id": dev["device"],
            "class": dev["class"],
            "driver": dev["driver"],
            "numa_node": dev["numa_node"],
        }
        for dev in devices
        if pci.is_nvidia_gpu(dev)
    ]
    other = sum(1 for dev in devices if pci.is_nvidia(dev) and not pci.is_nvidia_gpu(dev))
    return {"pci_readable": True, "gpus": gpus, "other_nvidia_functions": other}


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={"sysfs_root": {"type": "path", "default": "/sys"}}, supports_check_mode=True)
    module.exit_json(changed=False, **scan(module.params["sysfs_root"]))


if __name__ == "__main__":
    main()
