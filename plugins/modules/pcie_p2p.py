#!/usr/bin/python
# Apache-2.0. In-band PCIe P2P path probe: Python 3.8+ standard library only (runs on targets).
"""Walk the PCIe path of every NVIDIA GPU and RDMA NIC and judge ACS, IOMMU mode and BARs.

The work lives in module_utils (Ansible ships it with this module): pcie_acs (config space and
lspci parsing), pcie_paths (the sysfs / lspci walk), p2p_verdict (the judgement)."""

DOCUMENTATION = r"""
module: pcie_p2p
short_description: Judge PCIe ACS, IOMMU domain type and BAR placement on every GPU and RDMA NIC path
description:
  - Read-only. For every NVIDIA GPU and RDMA-capable NIC (ConnectX, InfiniBand class, Ethernet with
    mlx5_core or irdma) walks the PCIe path up to the root port and reads, per bridge, the ACS
    extended capability (capability and control bits) from config space; per endpoint the IOMMU
    group and its domain type, ATS (NICs) and BAR placement (GPUs).
  - Verdict C(FAIL) when ACS ReqRedir or CmpltRedir (or SrcValid with a translated IOMMU domain)
    is on a bridge of a GPU-GPU or GPU-NIC path and P2P matters on the host (several GPUs, an RDMA
    NIC, or I(require_p2p)), or when a GPU BAR is unassigned; C(WARN) for a translated (DMA /
    DMA-FQ) IOMMU domain; C(UNKNOWN) when config space is unreadable (not root);
    C(NOT_APPLICABLE) without GPU or with one GPU and no RDMA NIC (then only reported).
  - Reading ACS needs root (a non-root process sees only 64 bytes of config space).
options:
  root:
    description: Root to read C(sys/), C(proc/) and C(etc/systemd/system) under (tests use a tree).
    type: path
    default: /
  require_p2p:
    description: Judge P2P paths even on a host with one GPU and no RDMA NIC.
    type: bool
    default: false
  lspci_path:
    description:
      - Judge this C(lspci -vvv) text file (on the target) instead of sysfs, e.g. a recorded snapshot.
        IOMMU domains are unknown there, so source validation counts as with translation.
    type: path
  extra_endpoints:
    description:
      - Full PCI addresses (C(0000:01:00.0)) of further functions to walk, e.g. an Ethernet NIC whose
        driver offers no RDMA. Their bridges' ACS, IOMMU group, domain type and ATS are reported
        (kind C(other)); they take no part in the verdict. Sysfs only (not with I(lspci_path)).
    type: list
    elements: str
    default: []
author: autoglm-provision
"""

EXAMPLES = r"""
- name: Judge ACS, IOMMU mode and BAR placement on the GPU and NIC paths (read-only)
  autoglm.provision.pcie_p2p:
  become: true
  register: p2p

- name: Judge a recorded lspci -vvv snapshot
  autoglm.provision.pcie_p2p:
    lspci_path: /tmp/lspci-vvv.txt
    require_p2p: true
"""

RETURN = r"""
p2p:
  description:
    - The verdict as bios_prereq's requirements have it - verdict (PASS, WARN, FAIL, UNKNOWN,
      NOT_APPLICABLE), cause, evidence (list of str), remediation - and details (p2p_matters,
      redirect_bridges with their bits and endpoint pairs, unreadable_bridges, unknown_paths,
      translated_domains, clear_unit).
  returned: always
  type: dict
platform:
  description:
    - source (sysfs or lspci); endpoints (bdf, kind gpu, nic or other (I(extra_endpoints)), vendor,
      device, driver, path of bridge addresses nearest first, iommu_group, domain, ats, bars);
      bridges (per address, acs with cap and ctl bit names, or null without the capability, or
      "unreadable"); iommu groups.
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils.bios_common import UNKNOWN, Host, host_facts, result
from ansible_collections.autoglm.provision.plugins.module_utils.p2p_verdict import judge
from ansible_collections.autoglm.provision.plugins.module_utils.pcie_paths import from_lspci, from_sysfs

CLEAR_UNIT = "etc/systemd/system/autoglm-acs-clear.service"


def evaluate(root, require_p2p=False, lspci_text=None, extra_endpoints=()):
    """The whole probe, pure over the tree at ``root`` (what the unit tests call). Raises
    ValueError when an extra endpoint is not a PCI function of the tree."""
    host = Host(root)
    facts = host_facts(host)
    if lspci_text is not None:
        platform = from_lspci(lspci_text)
    else:
        try:
            platform = from_sysfs(host.path("sys"), extra_endpoints)
        except ValueError as exc:
            return {"p2p": result(UNKNOWN, "no_pci_bus", [str(exc)], "Run the check on the host itself."),
                    "platform": None}
        walked = {ep["bdf"] for ep in platform["endpoints"]}
        missing = sorted(set(extra_endpoints) - walked)
        if missing:
            raise ValueError("extra_endpoints {} are not PCI functions under {!r} (give full addresses, e.g. "
                             "0000:01:00.0)".format(", ".join(missing), host.path("sys")))
    verdict = judge(platform, require_p2p, facts["vendor_key"], facts["system_vendor"], host.exists(CLEAR_UNIT))
    return {"p2p": verdict, "platform": platform}


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "require_p2p": {"type": "bool", "default": False},
            "lspci_path": {"type": "path"},
            "extra_endpoints": {"type": "list", "elements": "str", "default": []},
        },
        mutually_exclusive=[("lspci_path", "extra_endpoints")],
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["root"]):
        module.fail_json(msg="pcie_p2p: root {!r} is not a directory".format(params["root"]))
    text = None
    if params["lspci_path"]:
        try:
            with open(params["lspci_path"], errors="replace") as handle:
                text = handle.read()
        except OSError as exc:
            module.fail_json(msg="pcie_p2p: cannot read lspci_path {!r}: {}".format(params["lspci_path"], exc))
    try:
        out = evaluate(params["root"], params["require_p2p"], text, params["extra_endpoints"])
    except ValueError as exc:
        module.fail_json(msg=f"pcie_p2p: {exc}")
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
