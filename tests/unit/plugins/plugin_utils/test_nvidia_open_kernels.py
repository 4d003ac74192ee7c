"""The kernels an open NVIDIA module source is known not to build against
(plugins/plugin_utils/nvidia_open_kernels.py), judged from the text the role's gate reads from the kernel
headers (tasks/open_kernel_gate.yml: the sed range from pci_resize_resource's declaration to its `;`). The
declarations are the lines the role's sed printed from Debian's real linux-headers-6.1.0-50-common
(6.1.176-1, bookworm) and linux-headers-6.1.0-57-common (6.1.192-3, bookworm-security)."""

from __future__ import annotations

import pytest
from ansible_collections.autoglm.provision.plugins.plugin_utils import nvidia_open_kernels as open_kernels

POINT_RELEASE = ("int __must_check pci_resize_resource(struct pci_dev *dev, int i, int size);\n"
                 "int pci_select_bars(struct pci_dev *dev, unsigned long flags);\n")
SECURITY = ("int __must_check pci_resize_resource(struct pci_dev *dev, int i, int size,\n"
            "\t\t\t\t     int exclude_bars);\n")
BOOKWORM_OPEN = "535.261.03"


@pytest.mark.parametrize(("text", "count"), [
    (POINT_RELEASE, 3), (SECURITY, 4), ("", None), ("int pci_select_bars(struct pci_dev *dev);", None),
    # Another function whose name ends in this one's is not it.
    ("int my_pci_resize_resource(struct pci_dev *dev);", None), ("int pci_resize_resource(void);", 0)])
def test_the_declared_parameters_are_counted_across_lines(text, count):
    assert open_kernels.declared_parameters(text, "pci_resize_resource") == count


def test_bookworms_open_module_is_stopped_on_the_security_kernel_only():
    blockers = open_kernels.open_build_blockers(BOOKWORM_OPEN, {
        "6.1.0-57-amd64": SECURITY, "6.1.0-50-amd64": POINT_RELEASE})
    assert [b["kernel"] for b in blockers] == ["6.1.0-57-amd64"]
    assert "pci_resize_resource with 4 parameters, the 535.261.03 source passes 3" in blockers[0]["reason"]
    assert "too few arguments to function 'pci_resize_resource'" in blockers[0]["reason"]
    assert blockers[0]["builds_against"].startswith("6.1.0-50-amd64")


def test_every_blocked_kernel_is_named_in_order():
    blockers = open_kernels.open_build_blockers(BOOKWORM_OPEN, {"6.1.0-58-amd64": SECURITY, "6.1.0-57-amd64": SECURITY})
    assert [b["kernel"] for b in blockers] == ["6.1.0-57-amd64", "6.1.0-58-amd64"]


@pytest.mark.parametrize(("version", "declarations"), [
    # Headers not found (check mode on a fresh host): no claim.
    (BOOKWORM_OPEN, {"6.1.0-57-amd64": ""}), (BOOKWORM_OPEN, {"6.1.0-57-amd64": None}),
    # A version not seen failing: no claim either (the filter names only what was seen).
    ("535.309.01", {"6.1.0-57-amd64": SECURITY}), ("", {"6.1.0-57-amd64": SECURITY}),
    (BOOKWORM_OPEN, {}), (BOOKWORM_OPEN, None)])
def test_no_blocker_without_a_known_break_and_the_headers_that_show_it(version, declarations):
    assert open_kernels.open_build_blockers(version, declarations) == []
