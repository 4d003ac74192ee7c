#!/usr/bin/python
# Apache-2.0. In-band BIOS prerequisite probe: Python 3.8+ standard library only (runs on targets).
"""Read sysfs/procfs (under a configurable root) and judge the BIOS prerequisites of a GPU host.

The checks live in module_utils, one family per file (Ansible ships them with this module):
bios_common (verdicts, the file reader, host facts, BIOS menus), bios_iommu, bios_sriov,
bios_above_4g, and pci (the PCI scan and the definition of an NVIDIA GPU)."""

DOCUMENTATION = r"""
module: bios_prereq
short_description: Judge VT-d/AMD-Vi, SR-IOV and Above 4G Decoding from sysfs, procfs and the kernel log
description:
  - Read-only. Returns, per requirement (C(iommu), C(sriov), C(above_4g)), a verdict
    (PASS, FAIL, NOT_APPLICABLE, UNKNOWN), a cause, evidence lines and a remediation text.
  - Distinguishes an IOMMU disabled in firmware (no ACPI DMAR/IVRS table) from one the
    firmware exposes but the kernel left off (no /sys/class/iommu units).
options:
  root:
    description: Root to read C(proc/), C(sys/) and C(etc/default/grub) under (tests use a fixture tree).
    type: path
    default: /
  kernel_log_path:
    description: Read the kernel log from this file instead of C(dmesg) / C(journalctl -k).
    type: path
  sriov_devices:
    description:
      - Devices that must be SR-IOV capable, each a PCI address (C(0000:3b:00.0) or C(3b:00.0)),
        a network interface name, or a C(vendor:device) ID such as C(15b3:101d).
      - Empty means at least one network function must be SR-IOV capable.
    type: list
    elements: str
    default: []
  gpu_min_bar1_mib:
    description: Smallest BAR1 for NVIDIA GPUs of a memory class the module does not know (0 = no floor).
    type: int
    default: 0
  iommu_passthrough:
    description: Whether the kernel parameters recommended for the IOMMU include C(iommu=pt).
    type: bool
    default: true
author: autoglm-provision
"""

EXAMPLES = r"""
- name: Judge VT-d/AMD-Vi, SR-IOV and Above 4G Decoding in-band (read-only)
  autoglm.provision.bios_prereq:
    sriov_devices: ["0000:3b:00.0"]
    gpu_min_bar1_mib: 16384
  register: bios

- name: Judge a captured /sys and /proc tree
  autoglm.provision.bios_prereq:
    root: /tmp/captured
    kernel_log_path: /tmp/captured/dmesg.txt
"""

RETURN = r"""
requirements:
  description: Per requirement a dict with verdict, cause, evidence (list of str), remediation and details.
  returned: always
  type: dict
host:
  description: cpu_vendor, virtualized, system_vendor, product_name, kernel_log_source.
  returned: always
  type: dict
kernel_params:
  description: IOMMU kernel parameters to add (C(add)) and to remove (C(remove)) when the kernel left the IOMMU off.
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils import pci
from ansible_collections.autoglm.provision.plugins.module_utils.bios_above_4g import check_above_4g
from ansible_collections.autoglm.provision.plugins.module_utils.bios_common import Host, host_facts
from ansible_collections.autoglm.provision.plugins.module_utils.bios_iommu import check_iommu, iommu_kernel_params
from ansible_collections.autoglm.provision.plugins.module_utils.bios_sriov import check_sriov, pci_devices


def read_kernel_log(module, host, path):
    """(lines, source): the given file, else dmesg, else journalctl -k; ([], None) if none works."""
    if path:
        text = host.read(path) if not os.path.isabs(path) else Host("/").read(path)
        return ((text or "").splitlines(), path) if text is not None else ([], None)
    for argv in (["dmesg"], ["journalctl", "-k", "-b", "--no-pager", "-q"]):
        binary = module.get_bin_path(argv[0]) if module else None
        if not binary:
            continue
        rc, out, _err = module.run_command([binary] + argv[1:])
        if rc == 0 and out:
            return out.splitlines(), argv[0]
    return [], None


def evaluate(root, sriov_devices=(), gpu_min_bar1_mib=0, passthrough=True, log_lines=(), log_source=None):
    """The whole judgement, pure over the tree at ``root`` (what the unit tests call)."""
    host = Host(root)
    facts = host_facts(host)
    scanned = pci.scan(host.path("sys")) or []
    devices = pci_devices(host, scanned)
    log_lines = list(log_lines)
    iommu = check_iommu(host, facts, passthrough)
    add, remove = iommu_kernel_params(facts["cpu_vendor"], passthrough)
    return {
        "host": dict(facts, kernel_log_source=log_source),
        "requirements": {
            "iommu": iommu,
            "sriov": check_sriov(devices, list(sriov_devices), log_lines, facts),
            "above_4g": check_above_4g(scanned, log_lines, log_source, gpu_min_bar1_mib, facts),
        },
        "kernel_params": {"add": add, "remove": remove, "needed": iommu["cause"] == "disabled_in_kernel"},
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "kernel_log_path": {"type": "path"},
            "sriov_devices": {"type": "list", "elements": "str", "default": []},
            "gpu_min_bar1_mib": {"type": "int", "default": 0},
            "iommu_passthrough": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["root"]):
        module.fail_json(msg="bios_prereq: root {!r} is not a directory".format(params["root"]))
    lines, source = read_kernel_log(module, Host(params["root"]), params["kernel_log_path"])
    out = evaluate(
        params["root"], params["sriov_devices"], params["gpu_min_bar1_mib"], params["iommu_passthrough"], lines, source
    )
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
