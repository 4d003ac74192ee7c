"""The nvidia_driver role's fabric manager tasks, run for real over a local connection, one inventory host
per case (the tasks are the role's own, taken from its task files by name; the facts they read are injected):

- tasks/services.yml, the package: apt-get's dry run on this machine knows no fabric manager of the made-up
  version 580.999.99 (nor does any repository; without apt-get the answer is the same), so an NVSwitch host
  stops naming every name tried and apt's error; a host without NVSwitches tries nothing.
- tasks/activate.yml, the fabric state after nvidia-smi works, on the nvidia-smi -q fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.role_tasks import run_tasks

REPO = Path(__file__).parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "nvidia_smi_fabric"


@pytest.fixture(scope="module")
def package_choice(tmp_path_factory):
    common = {"nvidia_driver__userland_version": "580.999.99", "nvidia_driver_branch": "580",
              "nvidia_driver_fabricmanager": "auto", "nvidia_driver__probe": {"nvswitch_count": 4},
              "nvidia_driver__fabricmanager_package": "nvidia-fabricmanager-580"}
    names = ("Dry-run each fabric manager package name at the driver's exact version",
             "Pick the fabric manager package apt resolves",
             "Fail when no fabric manager package of the driver's version is available",
             "Resolve the fabric manager packages (same version as the driver)")
    return run_tasks(tmp_path_factory.mktemp("fm"), "nvidia_driver", "services.yml", names, {
        "nvswitch-host": {**common, "nvidia_driver__want_fabricmanager": True},
        "pcie-host": {**common, "nvidia_driver__want_fabricmanager": False}}, "nvidia_driver__fabricmanager_packages")


def test_an_nvswitch_host_without_a_fabric_manager_of_the_drivers_version_stops(package_choice):
    stopped, _ = package_choice["nvswitch-host"]
    # 580: the real package first, then the (virtual in NVIDIA's repository) branch name, each with apt's answer.
    first, second = "nvidia-fabricmanager=580.999.99-*", "nvidia-fabricmanager-580=580.999.99-*"
    assert stopped.index(first) < stopped.index(second)
    assert "apt has no fabric manager at driver version 580.999.99" in stopped and "error 802" in stopped
    assert "nvidia_driver_fabricmanager=disabled" in stopped


def test_a_host_without_nvswitches_tries_no_fabric_manager(package_choice):
    assert package_choice["pcie-host"] == (None, [])


def test_fabric_state_check_after_nvidia_smi_works(tmp_path):
    def case(fixture, want):
        return {"nvidia_driver__want_fabricmanager": want, "nvidia_driver__loaded_version": "580.999.99",
                "nvidia_driver__fabricmanager_package": "nvidia-fabricmanager-580",
                "nvidia_driver__smi_query": {"rc": 0, "stdout": (FIXTURES / fixture).read_text()}}

    result = run_tasks(tmp_path, "nvidia_driver", "activate.yml", (
        "Resolve the fabric state", "Fail when a GPU of an NVSwitch host has not joined the NVLink fabric"), {
        "fm-not-running": case("hgx_fm_not_running.txt", True),
        "pcie": case("pcie_not_supported.txt", True),  # 'Not Supported' never fails, even with fabric manager on
        "fm-not-wanted": case("hgx_fm_not_running.txt", False),  # reported, not enforced
    }, "nvidia_driver__fabric")
    stopped, _ = result["fm-not-running"]
    assert "NVLink fabric not ready" in stopped and "00000000:2A:00.0" in stopped and "journalctl" in stopped
    assert result["pcie"][0] is None and result["pcie"][1]["verdict"] == "not_applicable"
    assert result["fm-not-wanted"][0] is None and result["fm-not-wanted"][1]["verdict"] == "fail"
