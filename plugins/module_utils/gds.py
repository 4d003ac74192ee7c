# Apache-2.0. GPUDirect Storage's kernel module on a host, read from a filesystem root (tests point it at a
# fixture tree). Standard library only: Ansible ships this file with the nvidia_gds_facts module.
"""nvidia-fs.ko (GPUDirect Storage): its file for a kernel, its signature against the kernel's keyrings,
whether it is loaded and registered its procfs directory, and the verdict the nvidia_driver role acts on.

NVIDIA's check that the module works is /proc/driver/nvidia-fs (the driver's stats live there:
/proc/driver/nvidia-fs/stats); the module name in /sys/module is nvidia_fs."""

import os

from ansible_collections.autoglm.provision.plugins.module_utils.module_signing import (
    kernel_key_names,
    signature_verdict,
)

PROC_DIR = "proc/driver/nvidia-fs"
# What the kernel logs when nvidia-fs (GPL) meets the proprietary nvidia.ko: it refuses the nvidia_p2p_*
# symbols (NVIDIA/gds-nvidia-fs#34, #41, #48), so nvidia-fs needs the open kernel modules.
GPL_REFUSAL = "module using GPL-only symbols uses symbols"


def _modinfo(run, kernel, module, *args):
    rc, out, _err = run(["modinfo", "-k", kernel, *args, module])
    return out.strip() if rc == 0 else ""


def key_names(root):
    """Names of the keys the running kernel holds (/proc/keys, root only); None when unreadable."""
    try:
        with open(os.path.join(root, "proc/keys"), "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    return kernel_key_names(text) if text.strip() else None


def probe(root, kernel, module, run):
    """The module for ``kernel``: file (None: not installed), version, signature (signature_verdict's dict
    plus nothing when absent), loaded (/sys/module/nvidia_fs), proc (/proc/driver/nvidia-fs present) and
    the kernel log's GPL-symbol refusals of it."""
    path = _modinfo(run, kernel, module, "-n")
    signature = None
    if path:
        signature = signature_verdict(_modinfo(run, kernel, module, "-F", "signer"),
                                      _modinfo(run, kernel, module, "-F", "sig_key"), key_names(root))
    loaded = os.path.isdir(os.path.join(root, "sys/module", module.replace("-", "_")))
    rc, dmesg, _err = run(["dmesg"]) if path and not loaded else (1, "", "")
    wanted = module.replace("-", "_") + ": " + GPL_REFUSAL
    return {
        "name": module,
        "file": path or None,
        "version": _modinfo(run, kernel, module, "-F", "version") if path else None,
        "signature": signature,
        "loaded": loaded,
        "proc": os.path.isdir(os.path.join(root, PROC_DIR)),
        "gpl_refusals": [line.strip() for line in (dmesg if rc == 0 else "").splitlines() if wanted in line],
    }


def verdict(found, secure_boot, check_mode=False):
    """{verdict: PASS|FAIL|UNKNOWN, detail}: the module read after the role loaded it (``found``: probe's
    dict), under ``secure_boot`` (enabled, disabled, unsupported, unknown)."""
    name = found.get("name") or "nvidia-fs"
    if not found.get("file"):
        if check_mode:
            return {"verdict": "UNKNOWN", "detail": f"check mode: {name} would be installed and built"}
        return {"verdict": "FAIL", "detail": f"{name} is not installed for the running kernel: DKMS did not build "
                                             "it (see `dkms status` and /var/lib/dkms/nvidia-fs/*/build/make.log)"}
    signature = found.get("signature") or {}
    if secure_boot == "enabled" and signature.get("key_trusted") is False:
        return {"verdict": "FAIL", "detail": f"Secure Boot is enabled and {name} ({found['file']}) is "
                                             f"{signature.get('verdict')}"}
    if not found.get("loaded"):
        if check_mode:
            return {"verdict": "UNKNOWN", "detail": f"check mode: {name} would be loaded"}
        return {"verdict": "FAIL", "detail": f"{name} did not load: {_load_failure(found)}"}
    if not found.get("proc"):
        return {"verdict": "FAIL",
                "detail": f"{name} is loaded but /{PROC_DIR} is missing: see `dmesg | grep nvidia_fs`"}
    signed = (f"; {signature.get('verdict')}" if secure_boot == "enabled"
              else f"; Secure Boot {secure_boot}, signer: {signature.get('signer') or 'none'}")
    version = found.get("version") or "(version unknown)"
    return {"verdict": "PASS", "detail": f"{name} {version} loaded, /{PROC_DIR} present{signed}"}


def _load_failure(found):
    """Why nvidia-fs did not load, from the kernel log."""
    if found.get("gpl_refusals"):
        return ("the kernel refused its use of the proprietary nvidia module's symbols (" + found["gpl_refusals"][0]
                + "): nvidia-fs needs the open GPU kernel modules (nvidia_driver_kernel_module_type=open)")
    return "see `modprobe -v nvidia-fs` and `dmesg | grep nvidia_fs`"
