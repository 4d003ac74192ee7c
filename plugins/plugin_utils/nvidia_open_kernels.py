"""Which target kernels a released open NVIDIA kernel-module source is known not to build against.

An open module source is written for the kernel API of its day. A later kernel API change reaches
distro kernels as a stable update (Debian 12's security kernel 6.1.0-57 took one), and DKMS's build then
stops inside dpkg with a compiler error, minutes into the install. The role reads the target kernels'
headers before it installs anything (tasks/open_kernel_gate.yml) and judges them here against the
breaks seen, so that the host stops at once with the kernel, the version and the ways out.
"""

from __future__ import annotations

import re

# The breaks seen, each with the function whose declaration in the kernel headers shows it, the number of
# arguments the module source passes, the module versions seen failing (no claim about others) and a
# kernel seen building that version. The role reads the declaration from include/linux/pci.h.
KNOWN_BREAKS = (
    {
        "function": "pci_resize_resource",
        "header": "include/linux/pci.h",
        "arguments_passed": 3,
        "module_versions": ("535.261.03",),
        # nv-pci.c's build error as DKMS's make.log shows it (docs/nvidia-driver.md).
        "error": "nvidia/nv-pci.c: too few arguments to function 'pci_resize_resource'",
        "builds_against": "6.1.0-50-amd64 (6.1.176-1, bookworm's point release in bookworm main)",
    },
)


def declared_parameters(declaration: str, function: str) -> int | None:
    """How many parameters the header text declares `function` with; None when it does not declare it."""
    found = re.search(rf"\b{re.escape(function)}\s*\(([^)]*)\)", declaration or "")
    if not found:
        return None
    parameters = found.group(1).strip()
    return 0 if parameters in ("", "void") else parameters.count(",") + 1


def open_build_blockers(version: str, declarations: dict) -> list[dict]:
    """The target kernels the open module `version` is known not to build against: [{kernel, reason,
    builds_against}]. `declarations` maps each target kernel to the text its headers declare the break's
    function with (None or '' when the headers were not found: no claim)."""
    blockers = []
    for kernel, declaration in sorted((declarations or {}).items()):
        for known in KNOWN_BREAKS:
            if str(version) not in known["module_versions"]:
                continue
            count = declared_parameters(declaration, known["function"])
            if count is None or count == known["arguments_passed"]:
                continue
            blockers.append({
                "kernel": kernel,
                "reason": (f"its headers ({known['header']}) declare {known['function']} with {count} parameters,"
                           f" the {version} source passes {known['arguments_passed']}"
                           f" (DKMS would stop with \"{known['error']}\")"),
                "builds_against": known["builds_against"],
            })
    return blockers


FILTERS = {"nvidia_open_build_blockers": open_build_blockers}
