#!/usr/bin/python
"""Read-only probes for the nvidia_driver role: Secure Boot, loaded and installed module versions and
kernel-module flavours (open or proprietary), module signatures and whether the running kernel trusts
their key, nouveau, NVIDIA PCI devices (GPUs, NVSwitches), kernels with headers, boot id."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_driver_facts
short_description: Probe NVIDIA driver state (read-only)
description:
  - Reads sysfs, procfs and EFI variables and runs C(modinfo) and C(mokutil); changes nothing.
options:
  root:
    description: Filesystem root to read from (tests point it at a fake sysfs tree).
    type: path
    default: /
  kernels:
    description: Kernel releases whose installed NVIDIA module version is reported.
    type: list
    elements: str
    default: []
  module_name:
    description:
      - Kernel module name of the driver (Debian C(nvidia-current), Ubuntu C(nvidia)), or the path of
        a C(.ko) file (signature checks of a given file).
    type: str
    default: nvidia
"""

EXAMPLES = r"""
- name: Probe the loaded NVIDIA driver and its modules for the target kernels
  autoglm.provision.nvidia_driver_facts:
    module_name: nvidia
    kernels: ["{{ ansible_facts.kernel }}"]
  register: nvidia
"""

RETURN = r"""
secure_boot:
  description: Secure Boot state, enabled, disabled, unsupported (no EFI) or unknown.
  returned: always
  type: str
secure_boot_evidence:
  description: Where that state was read (EFI variable or mokutil output).
  returned: always
  type: str
loaded_version:
  description: Version of the loaded nvidia module; null when none is loaded.
  returned: always
  type: str
loaded_module_type:
  description: Flavour of the loaded module, open or proprietary; null when unknown.
  returned: always
  type: str
nouveau_loaded:
  description: Whether nouveau is loaded.
  returned: always
  type: bool
gpus:
  description: The NVIDIA GPUs on the PCI bus (module_utils/pci.py's definition).
  returned: always
  type: list
  elements: dict
nvswitch_count:
  description: Number of NVSwitches (PCI class 0x0680).
  returned: always
  type: int
kernels_with_headers:
  description: Kernel releases whose headers are installed.
  returned: always
  type: list
  elements: str
module_versions:
  description: Installed module version per kernel of I(kernels) (null where absent).
  returned: always
  type: dict
module_types:
  description: Installed module flavour per kernel (open, proprietary or null).
  returned: always
  type: dict
module_signatures:
  description: The module's signature per kernel and whether the kernel trusts its key (null where absent).
  returned: always
  type: dict
kernel_key_names:
  description: Names of the keys in the kernel's keyrings (/proc/keys); null when unreadable.
  returned: always
  type: list
  elements: str
boot_id:
  description: The kernel's boot id (tells a reboot happened).
  returned: always
  type: str
"""

import glob
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.autoglm.provision.plugins.module_utils import pci
from ansible_collections.autoglm.provision.plugins.module_utils.module_signing import (
    kernel_key_names,
    signature_verdict,
)
from ansible_collections.autoglm.provision.plugins.module_utils.probe_commands import tolerant_runner

SECURE_BOOT_VAR = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
NVRM_RE = re.compile(r"Kernel Module\s+(?:for\s+\S+\s+)?(\d+\.\d+(?:\.\d+)?)")


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return None


def secure_boot(root: str, run) -> tuple[str, str]:
    """(state, evidence): state is enabled, disabled, unsupported (no EFI) or unknown."""
    if not os.path.isdir(os.path.join(root, "sys/firmware/efi")):
        return "unsupported", "no /sys/firmware/efi: legacy BIOS boot (or firmware hidden)"
    try:
        with open(os.path.join(root, SECURE_BOOT_VAR), "rb") as handle:
            data = handle.read()
        # efivarfs: 4 bytes of attributes, then the 1-byte value.
        if len(data) >= 5:
            return ("enabled" if data[4] == 1 else "disabled"), "EFI variable SecureBoot"
    except OSError:
        pass
    if run is not None:
        rc, out, _err = run(["mokutil", "--sb-state"])
        if rc == 0 and "enabled" in out.lower():
            return "enabled", "mokutil --sb-state"
        if rc == 0 and "disabled" in out.lower():
            return "disabled", "mokutil --sb-state"
    return "unknown", "EFI present but SecureBoot variable unreadable and mokutil gave no answer"


def loaded_version(root: str) -> str | None:
    version = _read(os.path.join(root, "sys/module/nvidia/version"))
    if version:
        return version
    match = NVRM_RE.search(_read(os.path.join(root, "proc/driver/nvidia/version")) or "")
    return match.group(1) if match else None


def loaded_module_type(root: str) -> str | None:
    """open or proprietary, from the loaded module's banner: the open modules print "NVIDIA UNIX Open
    Kernel Module for x86_64", the proprietary ones "NVIDIA UNIX x86_64 Kernel Module"."""
    text = _read(os.path.join(root, "proc/driver/nvidia/version")) or ""
    if "Open Kernel Module" in text:
        return "open"
    return "proprietary" if "Kernel Module" in text else None


# modinfo -F license: nv.c of the open modules declares MODULE_LICENSE("Dual MIT/GPL"), the proprietary
# one MODULE_LICENSE("NVIDIA").
LICENSE_TYPES = {"Dual MIT/GPL": "open", "NVIDIA": "proprietary"}


def module_types(kernels: list[str], module_name: str, run) -> dict:
    """open, proprietary or None (no such module, or a license this probe does not know) per kernel."""
    types = {}
    for kernel in kernels:
        rc, out, _err = run(["modinfo", "-k", kernel, "-F", "license", module_name])
        types[kernel] = LICENSE_TYPES.get(out.strip()) if rc == 0 else None
    return types


def pci_devices(root: str) -> tuple[list[dict], int]:
    """NVIDIA GPUs (module_utils/pci.py's definition) and the number of NVSwitches (class 0x0680)."""
    devices = pci.scan(os.path.join(root, "sys")) or []
    gpus = [{"slot": dev["address"], "device_id": dev["device"]} for dev in devices if pci.is_nvidia_gpu(dev)]
    return gpus, sum(1 for dev in devices if pci.is_nvswitch(dev))


def kernels_with_headers(root: str) -> list[str]:
    found = []
    for build in sorted(glob.glob(os.path.join(root, "lib/modules/*/build"))):
        if os.path.isfile(os.path.join(build, "Makefile")):
            found.append(os.path.basename(os.path.dirname(build)))
    return found


def module_versions(kernels: list[str], module_name: str, run) -> dict:
    versions = {}
    for kernel in kernels:
        rc, out, _err = run(["modinfo", "-k", kernel, "-F", "version", module_name])
        versions[kernel] = out.strip() if rc == 0 and out.strip() else None
    return versions


def module_signatures(kernels: list[str], module_name: str, run, key_names) -> dict:
    """Signature of the driver module per kernel (None where the kernel has no such module)."""
    out = {}
    for kernel in kernels:
        rc, path, _err = run(["modinfo", "-k", kernel, "-n", module_name])
        if rc != 0 or not path.strip():
            out[kernel] = None
            continue
        fields = {}
        for field in ("signer", "sig_key"):
            rc, value, _err = run(["modinfo", "-k", kernel, "-F", field, module_name])
            fields[field] = value.strip() if rc == 0 else ""
        out[kernel] = {"file": path.strip(), **signature_verdict(fields["signer"], fields["sig_key"], key_names)}
    return out


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "default": "/"},
            "kernels": {"type": "list", "elements": "str", "default": []},
            "module_name": {"type": "str", "default": "nvidia"},
        },
        supports_check_mode=True,
    )
    root = module.params["root"]

    run = tolerant_runner(module)

    state, evidence = secure_boot(root, run)
    gpus, nvswitches = pci_devices(root)
    proc_keys = _read(os.path.join(root, "proc/keys"))
    key_names = kernel_key_names(proc_keys) if proc_keys else None
    module.exit_json(
        changed=False,
        secure_boot=state,
        secure_boot_evidence=evidence,
        loaded_version=loaded_version(root),
        loaded_module_type=loaded_module_type(root),
        nouveau_loaded=os.path.isdir(os.path.join(root, "sys/module/nouveau")),
        gpus=gpus,
        nvswitch_count=nvswitches,
        kernels_with_headers=kernels_with_headers(root),
        module_versions=module_versions(module.params["kernels"], module.params["module_name"], run),
        module_types=module_types(module.params["kernels"], module.params["module_name"], run),
        module_signatures=module_signatures(module.params["kernels"], module.params["module_name"], run, key_names),
        kernel_key_names=key_names,
        boot_id=_read(os.path.join(root, "proc/sys/kernel/random/boot_id")),
    )


if __name__ == "__main__":
    main()
