"""The nvidia_driver role's host-side kernel-module flavour checks, run as the role's own tasks with the
probe's results injected (tests/fixtures/role_tasks.py): a loaded module of the other flavour asks for the
reboot (tasks/activate.yml), switching the flavour of an installed driver needs nvidia_driver_upgrade
(tasks/install.yml), and a target kernel with the other flavour's module stops the host (tasks/modules.yml)."""

from __future__ import annotations

from tests.fixtures.role_tasks import run_tasks

FLAVOUR = {"type": "open", "ok": True, "reason": "auto: Hopper GPUs at branch 580"}


def test_a_loaded_module_of_the_other_flavour_needs_the_reboot(tmp_path):
    def case(loaded_type, in_container=False):
        return {"nvidia_driver__userland_version": "580.95.05", "nvidia_driver__in_container": in_container,
                "nvidia_driver__on_controller": False, "nvidia_driver_reboot": True,
                "nvidia_driver__kernel_module_type": "open", "facts": {"kernel": "6.8.0-45-generic"},
                "nvidia_driver__module_versions": {"6.8.0-45-generic": "580.95.05"},
                "nvidia_driver__probe": {"loaded_version": "580.95.05", "loaded_module_type": loaded_type}}

    result = run_tasks(tmp_path, "nvidia_driver", "activate.yml", ("Resolve whether a reboot is needed and allowed",), {
        "other-flavour": case("proprietary"), "same-flavour": case("open"), "banner-unknown": case(None),
        "container": case("proprietary", in_container=True)}, "nvidia_driver__needs_reboot")
    assert {host: needs for host, (_, needs) in result.items()} == {
        "other-flavour": True, "same-flavour": False, "banner-unknown": False, "container": False}


def test_switching_the_flavour_of_an_installed_driver_needs_nvidia_driver_upgrade(tmp_path):
    def case(upgrade):
        return {"nvidia_driver_upgrade": upgrade, "nvidia_driver__replace_present": False,
                "nvidia_driver__userland_before": {"rc": 0, "stdout": "580.95.05-0ubuntu1"},
                "nvidia_driver__in_container": False, "nvidia_driver__kernel_module_type": "open",
                "nvidia_driver_kernel_module_type": "auto", "nvidia_driver__flavour": FLAVOUR,
                "nvidia_driver__probe": {"loaded_module_type": "proprietary"}}

    result = run_tasks(tmp_path, "nvidia_driver", "install.yml", (
        "Refuse to switch the kernel module flavour of an installed driver without nvidia_driver_upgrade",),
        {"held": case(False), "upgrade": case(True)}, "nvidia_driver__kernel_module_type")
    stopped, _ = result["held"]
    assert "runs the proprietary kernel" in stopped and "nvidia_driver_upgrade=true" in stopped
    assert "nvidia_driver_kernel_module_type=proprietary to keep what runs" in stopped
    assert result["upgrade"][0] is None


def test_a_kernel_with_the_other_flavours_module_stops_the_host(tmp_path):
    def case(types):
        return {"nvidia_driver__module_types": types, "nvidia_driver__kernel_module_type": "open",
                "nvidia_driver__flavour": FLAVOUR, "nvidia_driver__userland": {"rc": 0},
                "nvidia_driver__install": {"changed": False}}

    result = run_tasks(tmp_path, "nvidia_driver", "modules.yml", (
        "Check every target kernel has the chosen kernel module flavour",), {
        "mixed": case({"6.8.0-45-generic": "proprietary", "6.8.0-40-generic": "open"}),
        "chosen": case({"6.8.0-45-generic": "open", "6.8.0-40-generic": None})}, "nvidia_driver__module_types")
    stopped, _ = result["mixed"]
    assert "kernel 6.8.0-45-generic has the proprietary NVIDIA module but open was chosen" in stopped
    assert result["chosen"][0] is None
