"""redfish_bios's apply loop helpers (pure parts) and the per-vendor remediation; the loop against a
BMC runs in tests/integration/test_redfish_bios_apply.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import redfish_bios_apply as apply
from ansible_collections.autoglm.provision.plugins.module_utils import redfish_bios_vendors as vendors

FIXTURES = Path(__file__).parents[3] / "fixtures" / "redfish_bios"


def bios(vendor: str) -> dict:
    return json.loads((FIXTURES / f"{vendor}.json").read_text())["bios"]


@pytest.mark.parametrize(
    ("vendor", "uri", "annotated"),
    [
        ("dell", "/redfish/v1/Systems/System.Embedded.1/Bios/Settings", True),
        ("hpe", "/redfish/v1/systems/1/Bios/settings/", False),
        ("lenovo", "/redfish/v1/Systems/1/Bios/Pending", True),
        ("supermicro", "/redfish/v1/Systems/1/Bios/SD", False),
    ],
)
def test_settings_target_and_body_per_vendor(vendor, uri, annotated):
    target, times = apply.settings_target(bios(vendor), "/redfish/v1/Systems/1/Bios")
    assert target == uri
    body = apply.patch_body({"X": "Enabled"}, times)
    assert body["Attributes"] == {"X": "Enabled"}
    assert ("@Redfish.SettingsApplyTime" in body) is annotated
    if annotated:
        assert body["@Redfish.SettingsApplyTime"] == {"ApplyTime": "OnReset"}


def test_service_without_settings_annotation_patches_bios_itself():
    assert apply.settings_target({"Attributes": {}}, "/redfish/v1/Systems/1/Bios") == ("/redfish/v1/Systems/1/Bios", [])


def test_not_taken_names_expected_and_read():
    wanted = {"Sriov": "Enabled", "ProcAmdIoVt": "Enabled", "Gone": "Enabled"}
    seen = {"Sriov": "enabled", "ProcAmdIoVt": "Disabled"}
    assert apply.not_taken(wanted, seen) == [
        {"attribute": "ProcAmdIoVt", "expected": "Enabled", "read": "Disabled"},
        {"attribute": "Gone", "expected": "Enabled", "read": "<absent>"},
    ]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_read_until_taken_waits_through_silence_and_old_values():
    answers = iter([None, {"Sriov": "Disabled"}, None, {"Sriov": "Enabled"}])
    clock = Clock()
    seen = apply.read_until_taken(lambda: next(answers), {"Sriov": "Enabled"}, 60, 10, clock, clock.sleep)
    assert seen == {"Sriov": "Enabled"} and clock.now == 30


def test_read_until_taken_gives_up_at_the_timeout_with_the_last_answer():
    clock = Clock()
    seen = apply.read_until_taken(lambda: {"Sriov": "Disabled"}, {"Sriov": "Enabled"}, 25, 10, clock, clock.sleep)
    assert seen == {"Sriov": "Disabled"} and clock.now == 30


@pytest.mark.parametrize(
    ("manufacturer", "attributes", "vendor"),
    [
        ("Dell Inc.", ["SriovGlobalEnable"], "dell"),
        ("HPE", ["Sriov"], "hpe"),
        ("Lenovo", [], "lenovo"),
        ("Supermicro", [], "supermicro"),
        (None, ["SR-IOVSupport#0048"], "supermicro"),
        ("Sushy Emulator", ["DevicesandIOPorts_IntelVTforDirectedIOVTd"], "lenovo"),
        ("Sushy Emulator", ["ProcAmdIoVt"], "hpe"),
        (None, ["Cfg0x1A2"], "generic"),
    ],
)
def test_vendor_of(manufacturer, attributes, vendor):
    assert vendors.vendor_of(manufacturer, attributes) == vendor


def test_remediation_names_each_attribute_and_the_vendor_path():
    text = vendors.remediation(
        "Supermicro", [{"attribute": "SR-IOVSupport#0048", "expected": "Enabled", "read": "Disabled"}]
    )
    assert text.startswith("Not applied after the reset: SR-IOVSupport#0048 (expected 'Enabled', read 'Disabled').")
    assert "If-Match" in text and "SR-IOV Support" in text
