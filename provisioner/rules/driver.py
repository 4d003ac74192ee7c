"""NVIDIA driver branch/version, module flavour and CUDA version against the host's declared GPU models.

The GPU and CUDA facts are the collection's SKU table (plugins/plugin_utils/nvidia_gpu_skus.json, each row
with its sources), read through plugins/plugin_utils/nvidia_skus.py, which the nvidia_driver role uses too:
minimum drivers per SKU and per CUDA toolkit (the toolkit's full-functionality minimum from NVIDIA's CUDA
release notes, not the minor-version compatibility floor), compute capability against what the toolkit
compiles for, and which kernel-module flavour (open/proprietary) the GPUs can run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from types import ModuleType

from provisioner import paths
from provisioner.rules import Finding, is_templated


def _skus() -> ModuleType:
    return paths.collection_module("plugin_utils.nvidia_skus")


def _gpudirect_rules() -> ModuleType:
    return paths.collection_module("plugin_utils.nvidia_gpudirect")


@functools.cache
def cuda_min_driver() -> dict[str, str]:
    """CUDA toolkit (major.minor) -> minimum Linux x86_64 driver for full functionality (the SKU table's)."""
    return {version: row["min_driver"] for version, row in _skus().CUDA.items()}

BRANCH_RE = re.compile(r"^\d{3}$")
VERSION_RE = re.compile(r"^(\d{3})\.\d+(\.\d+)?$")


def _malformed(host: str, branch: str, pinned: str) -> list[Finding]:
    """The branch and pin as numbers: a finding when either is not one, or the pin is another branch's."""
    if not BRANCH_RE.match(branch):
        return [Finding(host, "nvidia_driver_branch", branch, "is not a driver branch number",
                        "a 3-digit branch such as '535'")]
    if not pinned:
        return []
    match = VERSION_RE.match(pinned)
    if not match:
        return [Finding(host, "nvidia_driver_version", pinned, "is not an NVIDIA driver version",
                        f"empty (newest of the branch) or a version such as '{branch}.183.01'")]
    if match.group(1) != branch:
        return [Finding(host, "nvidia_driver_version", pinned,
                        f"is not a release of branch {branch} (nvidia_driver_branch)",
                        f"a version starting with '{branch}.'")]
    return []


def _gpudirect(host: str, hostvars: dict) -> list[Finding]:
    """nvidia_driver_gpudirect against the module flavour and branch: what no host could satisfy."""
    requested = hostvars.get("nvidia_driver_gpudirect", "auto")
    flavour = hostvars.get("nvidia_driver_kernel_module_type", "auto")
    branch = hostvars.get("nvidia_driver_branch", "535")
    allowed = "auto, dmabuf (open kernel modules), peermem or 'off' (quoted)"
    if any(is_templated(value) for value in (requested, flavour, branch)):
        return []
    if isinstance(requested, bool):
        return [Finding(host, "nvidia_driver_gpudirect", requested,
                        "is a YAML boolean: unquoted off/no/false reads as false", allowed)]
    problem = _gpudirect_rules().request_problem(str(requested), str(flavour), str(branch))
    return [Finding(host, "nvidia_driver_gpudirect", requested, problem, allowed)] if problem else []


def _gds(host: str, hostvars: dict) -> list[Finding]:
    """nvidia_driver_gds against the module flavour: nvidia-fs is GPL, and the kernel refuses it the proprietary
    module's nvidia_p2p_* symbols (NVIDIA/gds-nvidia-fs#34, #41, #48), so it needs the open modules (from 515)."""
    wanted, flavour = hostvars.get("nvidia_driver_gds", False), hostvars.get("nvidia_driver_kernel_module_type", "auto")
    branch = str(hostvars.get("nvidia_driver_branch", "535"))
    if wanted is not True or is_templated(flavour) or is_templated(branch):
        return []
    allowed = "false, or the open kernel modules (nvidia_driver_kernel_module_type=open or auto, branch >= 515)"
    if flavour == "proprietary":
        return [Finding(host, "nvidia_driver_gds", wanted, "GPUDirect Storage's nvidia-fs needs the open GPU kernel "
                        "modules, but nvidia_driver_kernel_module_type=proprietary", allowed)]
    if branch.isdigit() and int(branch) < 515:
        return [Finding(host, "nvidia_driver_gds", wanted, "GPUDirect Storage's nvidia-fs needs the open GPU kernel "
                        f"modules, which start at branch 515 (nvidia_driver_branch={branch})", allowed)]
    return []


def _driver(host: str, hostvars: dict) -> list[Finding]:
    branch = hostvars.get("nvidia_driver_branch", "535")
    pinned = hostvars.get("nvidia_driver_version", "") or ""
    if is_templated(branch) or is_templated(pinned):
        return []
    branch, pinned = str(branch), str(pinned)
    if findings := _malformed(host, branch, pinned):
        return findings
    cuda_version = hostvars.get("cuda_version", "11.8")
    models = hostvars.get("nvidia_driver_gpu_models", []) or []
    models = [models] if isinstance(models, str) else list(models)
    flavour = hostvars.get("nvidia_driver_kernel_module_type", "auto")
    if is_templated(cuda_version) or is_templated(flavour) or any(is_templated(m) for m in models):
        return []
    cuda_version = str(cuda_version)
    minimum = cuda_min_driver().get(cuda_version)
    if minimum and not _skus().driver_meets(branch, pinned, minimum):
        installed = pinned or f"newest {branch}.x"
        findings.append(Finding(host, "nvidia_driver_version" if pinned else "nvidia_driver_branch", pinned or branch,
                                f"driver {installed} cannot run CUDA {cuda_version} (cuda_version), "
                                f"which needs driver >= {minimum}",
                                f"a branch/version >= {minimum}, e.g. branch '535'"))
    for problem in _skus().combination_problems([str(m) for m in models], branch, pinned, cuda_version,
                                                str(flavour)):
        findings.append(Finding(host, problem["variable"], problem["value"], problem["message"], problem["allowed"]))
    return findings


def check(host: str, hostvars: dict) -> Iterable[Finding]:
    return _gpudirect(host, hostvars) + _gds(host, hostvars) + _driver(host, hostvars)
