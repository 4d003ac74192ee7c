#!/usr/bin/python
"""List NVIDIA GPUs on the PCI bus from sysfs (vendor 0x10de, display class); no driver needed."""

from __future__ import annotations

import os

DOCUMENTATION = r"""
module: autoglm_pci_gpus
short_description: NVIDIA GPUs on the PCI bus, read from sysfs
description:
  - Reads /sys/bus/pci/devices/*/{vendor,device,class}; a GPU is vendor 0x10de with PCI class
    0x0300 (VGA) or 0x0302 (3D controller). NVIDIA audio functions and NVSwitches are not GPUs.
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

NVIDIA_VENDOR = "0x10de"
GPU_CLASSES = ("0x0300", "0x0302")


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def scan(sysfs_root: str = "/sys") -> dict:
    base = os.path.join(sysfs_root, "bus/pci/devices")
    gpus, other_nvidia = [], 0
    try:
        addresses = sorted(os.listdir(base))
    except OSError:
        return {"pci_readable": False, "gpus": [], "other_nvidia_functions": 0}
    for address in addresses:
        dev = os.path.join(base, address)
        if _read(os.path.join(dev, "vendor")) != NVIDIA_VENDOR:
            continue
        pci_class = _read(os.path.join(dev, "class")) or ""
        if not pci_class.startswith(GPU_CLASSES):
            other_nvidia += 1
            continue
        driver = os.path.join(dev, "driver")
        gpus.append(
            {
                "address": address,
                "device_id": _read(os.path.join(dev, "device")),
                "class": pci_class,
                "driver": os.path.basename(os.readlink(driver)) if os.path.islink(driver) else None,
                "numa_node": _read(os.path.join(dev, "numa_node")),
            }
        )
    return {"pci_readable": True, "gpus": gpus, "other_nvidia_functions": other_nvidia}


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={"sysfs_root": {"type": "path", "default": "/sys"}}, supports_check_mode=True)
    module.exit_json(changed=False, **scan(module.params["sysfs_root"]))


if __name__ == "__main__":
    main()
