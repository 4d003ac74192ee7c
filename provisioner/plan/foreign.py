"""Variables of other well-known roles that real GPU inventories carry and that share a prefix with
this project's (``nvidia_driver_*``, ``cuda_*``). Policy (README, "Foreign variables"):

- a variable of another role that this project does not read is a *warning* naming where it comes
  from and this project's equivalent: the inventory may serve both projects;
- a variable with the same name as one of ours but a different meaning is an *error* that says so,
  since this project would read it and misunderstand it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NVIDIA_ROLE = "NVIDIA's driver role nvidia.nvidia_driver (NVIDIA/ansible-role-nvidia-driver, used by DeepOps)"
DEEPOPS_CUDA = "DeepOps' nvidia_cuda role"


@dataclass(frozen=True)
class Foreign:
    source: str
    equivalent: str


_BRANCH = "nvidia_driver_branch (this project picks the packages per distro)"
_SOURCE = "nvidia_driver_source: cuda-repo (with cuda_repo_url / cuda_repo_key for a mirror)"
_NO_EQUIVALENT = "none: "

FOREIGN: dict[str, Foreign] = {
    "nvidia_driver_package_version": Foreign(NVIDIA_ROLE, "nvidia_driver_version"),
    "nvidia_driver_package_state": Foreign(NVIDIA_ROLE, _NO_EQUIVALENT + "the driver is always installed"),
    "nvidia_driver_persistence_mode_on": Foreign(NVIDIA_ROLE, "nvidia_driver_persistence"),
    "nvidia_driver_skip_reboot": Foreign(NVIDIA_ROLE, "nvidia_driver_reboot (inverted: false skips the reboot)"),
    "nvidia_driver_module_file": Foreign(NVIDIA_ROLE, "modprobe_options (role modprobe writes one managed file)"),
    "nvidia_driver_module_params": Foreign(NVIDIA_ROLE, "modprobe_options: {nvidia: {param: value}}"),
    "nvidia_driver_add_repos": Foreign(NVIDIA_ROLE, _SOURCE),
    "nvidia_driver_force_install": Foreign(NVIDIA_ROLE, "nvidia_driver_upgrade"),
    "nvidia_driver_ubuntu_use_open_kernel_modules": Foreign(
        NVIDIA_ROLE, _NO_EQUIVALENT + "this project installs the branch's default kernel modules"),
    "nvidia_driver_ubuntu_branch": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_debian_branch": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_rhel_branch": Foreign(NVIDIA_ROLE, _NO_EQUIVALENT + "RHEL is not a target of this project"),
    "nvidia_driver_ubuntu_install_from_cuda_repo": Foreign(NVIDIA_ROLE, _SOURCE),
    "nvidia_driver_debian_install_from_cuda_repo": Foreign(NVIDIA_ROLE, _SOURCE),
    "nvidia_driver_ubuntu_packages_suffix": Foreign(NVIDIA_ROLE, "nvidia_driver_ubuntu_kernel_flavour"),
    "nvidia_driver_ubuntu_packages": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_debian_packages": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_ubuntu_cuda_package": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_debian_cuda_package": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_ubuntu_cuda_repo_baseurl": Foreign(NVIDIA_ROLE, "cuda_repo_url"),
    "nvidia_driver_debian_cuda_repo_baseurl": Foreign(NVIDIA_ROLE, "cuda_repo_url"),
    "nvidia_driver_ubuntu_cuda_keyring_url": Foreign(NVIDIA_ROLE, "cuda_repo_key"),
    "nvidia_driver_debian_cuda_keyring_url": Foreign(NVIDIA_ROLE, "cuda_repo_key"),
    "nvidia_driver_ubuntu_cuda_keyring_package": Foreign(NVIDIA_ROLE, "cuda_repo_key"),
    "nvidia_driver_debian_cuda_keyring_package": Foreign(NVIDIA_ROLE, "cuda_repo_key"),
    "nvidia_driver_debian_install_tesla_driver": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_debian_tesla_package": Foreign(NVIDIA_ROLE, _BRANCH),
    "nvidia_driver_rhel_cuda_repo_baseurl": Foreign(NVIDIA_ROLE, _NO_EQUIVALENT + "RHEL is not a target"),
    "nvidia_driver_rhel_cuda_repo_gpgkey": Foreign(NVIDIA_ROLE, _NO_EQUIVALENT + "RHEL is not a target"),
}


@dataclass(frozen=True)
class Conflict:
    """One of our variable names used by another role for something else, recognised by its value."""

    source: str
    pattern: re.Pattern
    theirs: str
    ours: str


CONFLICTS: dict[str, Conflict] = {
    "cuda_version": Conflict(DEEPOPS_CUDA, re.compile(r"^cuda(-toolkit)?-\d+-\d+$"),
                             "an apt package name such as cuda-toolkit-11-5",
                             "the CUDA toolkit version as major.minor, '11.8'"),
}


def warning_for(name: str) -> str | None:
    foreign = FOREIGN.get(name)
    if foreign is None:
        return None
    equivalent = foreign.equivalent
    here = equivalent if equivalent.startswith(_NO_EQUIVALENT) else f"use {equivalent}"
    return (f"{name!r} is a variable of {foreign.source}, not read by this project; its equivalent here: "
            f"{here.removeprefix(_NO_EQUIVALENT)}")


def conflict_for(name: str, value: object) -> str | None:
    conflict = CONFLICTS.get(name)
    if conflict is None or not isinstance(value, str) or not conflict.pattern.match(value.strip()):
        return None
    return (f"{name}={value!r} looks like {conflict.source}'s {name}, which is {conflict.theirs}; this project "
            f"reads the same name as {conflict.ours}: set it for this project or keep the two inventories apart")
