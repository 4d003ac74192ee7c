"""The nvidia_driver role's Debian driver pin (tasks/apt_pin.yml), run as the role's own task with the apt
output injected (tests/fixtures/role_tasks.py): the version the driver's source packages are pinned to is
the set nvidia_driver_version, else for the open flavour the upstream part of the open module package's
candidate (bookworm has it only at its release version, its proprietary packages have newer security
updates), else none. The apt-cache texts are the form `apt-cache show --no-all-versions` prints."""

from __future__ import annotations

from tests.fixtures.role_tasks import run_tasks

OPEN_SHOW = "Package: nvidia-open-kernel-dkms\nVersion: 535.261.03-1\nArchitecture: amd64\n"
SECURITY_SHOW = "Package: nvidia-open-kernel-dkms\nVersion: 535.309.01-0+deb12u1\nSection: contrib/kernel\n"


def test_the_pin_is_the_set_version_else_the_open_packages_upstream_version(tmp_path):
    def case(version, candidate):
        return {"nvidia_driver_version": version, "nvidia_driver__open_candidate": candidate}

    result = run_tasks(tmp_path, "nvidia_driver", "apt_pin.yml", (
        "Resolve the version the driver's source packages are pinned to (none, the set one, or the open one)",), {
        "set": case("535.261.03", {"skipped": True}),
        "open": case("", {"rc": 0, "stdout": OPEN_SHOW}),
        "open-security-form": case("", {"rc": 0, "stdout": SECURITY_SHOW}),
        # Check mode on a fresh host: contrib is not in the lists yet.
        "open-unknown": case("", {"rc": 100, "stdout": ""}),
        "proprietary": case("", {"skipped": True}),
    }, "nvidia_driver__pin_version")
    assert {host: pin for host, (stopped, pin) in result.items() if stopped is None} == {
        "set": "535.261.03", "open": "535.261.03", "open-security-form": "535.309.01",
        "open-unknown": "", "proprietary": ""}
