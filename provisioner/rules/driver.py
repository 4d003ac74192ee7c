"""NVIDIA driver branch/version against the host's CUDA version and declared GPU models.

Minimum Linux driver versions come from NVIDIA's CUDA release notes ("CUDA Toolkit and
Corresponding Driver Versions", the toolkit's full-functionality minimum, not the minor-version
compatibility floor) and from the product spec (H100 needs >= 525.60.13).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from provisioner.rules import Finding, is_templated

# CUDA toolkit (major.minor) -> minimum Linux x86_64 driver for full functionality.
CUDA_MIN_DRIVER: dict[str, str] = {
    "11.8": "520.61.05",
    "12.0": "525.60.13",
    "12.1": "530.30.02",
    "12.2": "535.54.03",
}

# GPU model (upper-case, as written in nvidia_driver_gpu_models) -> minimum driver.
GPU_MIN_DRIVER: dict[str, str] = {
    "H100": "525.60.13",
    "H800": "525.60.13",
    "A100": "450.80.02",
    "A800": "450.80.02",
}

BRANCH_RE = re.compile(r"^\d{3}$")
VERSION_RE = re.compile(r"^(\d{3})\.\d+(\.\d+)?$")


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _satisfies(branch: str, pinned: str, minimum: str) -> bool:
    """Whether the driver that will be installed meets ``minimum``.

    With a pinned version compare it exactly. Unpinned, the newest release of the branch gets
    installed: a branch above the minimum's branch is fine, one below is not, and the minimum's own
    branch is fine because its newest release is at or above the minimum.
    """
    if pinned:
        return _as_tuple(pinned) >= _as_tuple(minimum)
    return int(branch) >= int(minimum.split(".")[0])


def check(host: str, hostvars: dict) -> Iterable[Finding]:
    findings: list[Finding] = []
    branch = hostvars.get("nvidia_driver_branch", "535")
    pinned = hostvars.get("nvidia_driver_version", "") or ""
    if is_templated(branch) or is_templated(pinned):
        return findings
    branch = str(branch)
    pinned = str(pinned)

    if not BRANCH_RE.match(branch):
        findings.append(Finding(host, "nvidia_driver_branch", branch,
                                "is not a driver branch number", "a 3-digit branch such as '535'"))
        return findings
    if pinned:
        match = VERSION_RE.match(pinned)
        if not match:
            findings.append(Finding(host, "nvidia_driver_version", pinned,
                                    "is not an NVIDIA driver version",
                                    f"empty (newest of the branch) or a version such as '{branch}.183.01'"))
            return findings
        if match.group(1) != branch:
            findings.append(Finding(host, "nvidia_driver_version", pinned,
                                    f"is not a release of branch {branch} (nvidia_driver_branch)",
                                    f"a version starting with '{branch}.'"))
            return findings

    installed = pinned or f"newest {branch}.x"

    def too_old(message: str, minimum: str) -> Finding:
        """The pinned version, else the branch, is what the inventory must raise."""
        return Finding(host, "nvidia_driver_version" if pinned else "nvidia_driver_branch", pinned or branch,
                       message, f"a branch/version >= {minimum}, e.g. branch '535'")
    cuda_version = hostvars.get("cuda_version", "11.8")
    if not is_templated(cuda_version):
        cuda_version = str(cuda_version)
        minimum = CUDA_MIN_DRIVER.get(cuda_version)
        if minimum and not _satisfies(branch, pinned, minimum):
            findings.append(too_old(f"driver {installed} cannot run CUDA {cuda_version} (cuda_version), "
                                    f"which needs driver >= {minimum}", minimum))

    models = hostvars.get("nvidia_driver_gpu_models", []) or []
    if isinstance(models, str):
        models = [models]
    for model in models:
        if is_templated(model):
            continue
        key = str(model).upper().split()[0] if str(model).strip() else ""
        minimum = GPU_MIN_DRIVER.get(key)
        if minimum and not _satisfies(branch, pinned, minimum):
            findings.append(too_old(f"driver {installed} does not support {model} GPUs "
                                    f"(nvidia_driver_gpu_models), which need driver >= {minimum}", minimum))
    return findings
