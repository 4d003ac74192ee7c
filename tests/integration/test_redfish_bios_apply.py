"""redfish_bios apply=true (apply -> reset -> verify) per vendor, on sushy-emulator (127.0.0.1 only).

The emulator (libvirt test:///default, basic auth) holds the BIOS attributes and performs the reset;
each vendor's attribute names, values and @Redfish.Settings come from a real Bios payload
(tests/fixtures/redfish_bios/). Between the module and the emulator runs the vendor's pending-settings
model (tests/integration/redfish_vendor_front.py), because the emulator applies a PATCH at once and
has no vendor settings URI: that front, and only it, is faked; its docstring says how.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .redfish_services import BIN, PASSWORD, USER, current, seed, sushy_emulator
from .redfish_vendor_front import vendor_front
from .test_redfish_emulator import run_module, verdicts

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures" / "redfish_bios"
REGISTRIES = Path(__file__).parents[1] / "fixtures" / "redfish" / "registries"
# Per vendor: the real payload's attributes with these switched off, the requirements its BIOS
# exposes (HPE has no Above 4G switch, this Lenovo payload no global SR-IOV one) and what apply sends.
CASES = {
    "dell": (
        {"ProcVirtualization": "Disabled", "SriovGlobalEnable": "Disabled", "MmioAbove4Gb": "Disabled"},
        ["iommu", "sriov", "above_4g"],
        "OnReset",
    ),
    "hpe": ({"ProcAmdIoVt": "Disabled", "Sriov": "Disabled"}, ["iommu", "sriov"], None),
    "lenovo": (
        {
            "DevicesandIOPorts_IntelVTforDirectedIOVTd": "Disabled",
            "DevicesandIOPorts_PCI64BitResourceAllocation": "Disabled",
        },
        ["iommu", "above_4g"],
        "OnReset",
    ),
    "supermicro": (
        {
            "IntelVTforDirectedI/O(VT-d)#1E12": "Disable",
            "SR-IOVSupport#0048": "Disabled",
            "Above4GDecoding#0042": "Disabled",
        },
        ["iommu", "sriov", "above_4g"],
        None,
    ),
}
FAST = {"poll_interval": 1, "apply_timeout": 20}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with sushy_emulator(tmp_path_factory.mktemp("emu")) as emu:
        yield emu


def fixture(vendor: str) -> dict:
    return json.loads((FIXTURES / f"{vendor}.json").read_text())


def seed_vendor(emulator, vendor: str, bios: dict | None = None, off: dict | None = None) -> dict:
    off = CASES[vendor][0] if off is None else off
    bios = fixture(vendor) if bios is None else bios
    attributes = {k: str(v) if isinstance(v, bool) else v for k, v in bios["bios"]["Attributes"].items()}
    seed(emulator, {**attributes, **off})
    return off


def registry(vendor: str) -> tuple[dict, dict]:
    """The vendor's real Registries entry and AttributeRegistry document (README in REGISTRIES)."""
    entry, document = (
        json.loads((REGISTRIES / f"{vendor}.{kind}.json").read_text()) for kind in ("registry-file", "registry")
    )
    return entry, document


def sent(front, method: str) -> list:
    return [entry for entry in front.log if entry[0] == method]


@pytest.mark.parametrize("vendor", sorted(CASES))
def test_apply_reset_verify(emulator, tmp_path, vendor):
    off = seed_vendor(emulator, vendor)
    _off, reqs, apply_time = CASES[vendor]
    with vendor_front(emulator, fixture(vendor), vendor) as (url, front):
        dry = run_module(tmp_path, url, check_mode=True, apply=True, requirements=reqs, **FAST)
        assert dry["changed"] is True and set(dry["staged"]) == set(off)
        assert sent(front, "PATCH") == [] and sent(front, "POST") == []  # check mode sent nothing
        assert set(verdicts(dry).values()) == {"FAIL"}

        out = run_module(tmp_path, url, apply=True, requirements=reqs, **FAST)
        assert out.get("failed") is not True, out.get("msg")
        assert out["changed"] is True and out["not_taken"] == [] and out["rebooted"] is True
        assert verdicts(out) == dict.fromkeys(reqs, "PASS")
        assert out["applied"] == {
            "settings_uri": front.settings_uri,
            "apply_time": apply_time,
            "if_match": True,
            "config_job": None,
            "reset": "GracefulRestart",
        }
        patch = sent(front, "PATCH")[0]
        assert patch[1] == front.settings_uri and set(patch[2]["body"]["Attributes"]) == set(off)
        assert patch[2]["If-Match"] == f'"{vendor}-1"'
        assert [p for _m, p, _b in sent(front, "POST")] == [f"{emulator[1]}/Actions/ComputerSystem.Reset"]
        seen = current(emulator)  # read back from the emulator itself, not through the module
        assert all(seen[name] == out["staged"][name] for name in off)

        again = run_module(tmp_path, url, apply=True, requirements=reqs, **FAST)
        assert again["changed"] is False and again["staged"] == {}
        assert len(sent(front, "POST")) == 1  # no second reset


def test_attribute_that_does_not_take_is_named(emulator, tmp_path):
    """A Supermicro BIOS that refuses SR-IOV at POST (the front drops it: see its docstring)."""
    seed_vendor(emulator, "supermicro")
    with vendor_front(emulator, fixture("supermicro"), "supermicro", drop={"SR-IOVSupport#0048"}) as (url, _front):
        out = run_module(tmp_path, url, apply=True, poll_interval=1, apply_timeout=3)
    assert out["failed"] is True and out["changed"] is True
    assert out["not_taken"] == [{"attribute": "SR-IOVSupport#0048", "expected": "Enabled", "read": "Disabled"}]
    assert "SR-IOVSupport#0048 expected 'Enabled', read 'Disabled'" in out["msg"]
    assert "Supermicro" in out["remediation"] and "SR-IOV Support" in out["remediation"]
    sriov = out["requirements"]["sriov"]
    assert sriov["verdict"] == "FAIL" and sriov["cause"] == "not_taken" and sriov["remediation"] == out["remediation"]
    assert "applied SR-IOVSupport#0048='Enabled' and reset; read 'Disabled'" in sriov["evidence"]
    assert out["requirements"]["above_4g"]["verdict"] == "PASS"  # took: judged again from the values read
    seen = current(emulator)
    assert seen["Above4GDecoding#0042"] == "Enabled" and seen["SR-IOVSupport#0048"] == "Disabled"


def test_dell_without_apply_time_gets_a_config_job(emulator, tmp_path):
    """An iDRAC that does not list OnReset: the PATCH alone stays pending (the front applies nothing
    without a job), so the module creates the BIOS config job, and the values take at the reset."""
    off = seed_vendor(emulator, "dell")
    dell = fixture("dell")
    del dell["bios"]["@Redfish.Settings"]["SupportedApplyTimes"]
    with vendor_front(emulator, dell, "dell") as (url, front):
        out = run_module(tmp_path, url, apply=True, **FAST)
    assert out.get("failed") is not True, out.get("msg")
    assert out["applied"]["apply_time"] is None
    assert out["applied"]["config_job"] == "/redfish/v1/Managers/iDRAC.Embedded.1/Jobs/JID_000000000001"
    jobs = [b["body"] for _m, p, b in sent(front, "POST") if p.endswith("/Jobs")]
    assert jobs == [{"TargetSettingsURI": front.settings_uri}]
    assert "@Redfish.SettingsApplyTime" not in sent(front, "PATCH")[0][2]["body"]
    seen = current(emulator)
    assert {name: seen[name] for name in off} == dict.fromkeys(off, "Enabled")


def test_site_role_applies_through_the_bmc(emulator, tmp_path):
    """`autoglm-provision site --tags bios_check -e bios_check_bmc_apply=true` on this machine (in-band,
    local connection) with its BMC the Dell model: the role runs the loop, the BMC's view of SR-IOV
    reads PASS afterwards, the emulator holds the values, and the password is in no output."""
    off = seed_vendor(emulator, "dell")
    with vendor_front(emulator, fixture("dell"), "dell") as (url, front):
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(
            "all:\n  hosts:\n    thismachine:\n      ansible_connection: local\n"
            f"      ansible_python_interpreter: {sys.executable}\n      bios_check_bmc_address: {url}\n"
            f"      bios_check_bmc_username: {USER}\n      bios_check_mandatory: []\n"
        )
        runs = tmp_path / "runs"
        proc = subprocess.run(
            [
                str(BIN / "autoglm-provision"),
                "site",
                str(inventory),
                "--plain",
                "--run-dir",
                str(runs),
                "--tags",
                "bios_check",
                "-e",
                "bios_check_bmc_apply=true",
                "-e",
                "bios_check_bmc_apply_timeout=20",
                "-e",
                f"autoglm_run_dir={tmp_path / 'smoke'}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env=dict(os.environ, AUTOGLM_BMC_PASSWORD=PASSWORD),
        )
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console[-4000:]
    assert PASSWORD not in console
    assert [p for _m, p, _b in sent(front, "POST")] == [f"{emulator[1]}/Actions/ComputerSystem.Reset"]
    seen = current(emulator)
    assert {name: seen[name] for name in off} == dict.fromkeys(off, "Enabled")
    report = json.loads(next(runs.rglob("report.json")).read_text())
    bios = report["hosts"]["thismachine"]["facts"]["bios_check"]
    assert {r: bios["requirements"][r]["redfish"]["verdict"] for r in CASES["dell"][1]} == dict.fromkeys(
        CASES["dell"][1], "PASS"
    )


# Per vendor with its real AttributeRegistry served: the Bios payload of the same machine (Supermicro:
# the registry's own snapshot, whose names the module finds by the registry's display names), the
# attributes switched off, and one attribute seeded with a value outside the BIOS's vocabulary ("Off"),
# for which the module's guess by symmetry ("On") is not a value the registry allows.
REGISTRY_CASES = {
    "dell": (None, CASES["dell"][0], "MmioAbove4Gb", "'Enabled', 'Disabled'"),
    "hpe": (None, CASES["hpe"][0], "Sriov", "'Enabled', 'Disabled'"),
    "lenovo": (None, CASES["lenovo"][0], "DevicesandIOPorts_IntelVTforDirectedIOVTd", "'Disabled', 'Enabled'"),
    "supermicro": (
        "supermicro.bios.json",
        {
            "IntelVTforDirectedI_O_VT_d__1E32": "Disable",
            "SR_IOVSupport_0047": "Disabled",
            "Above4GDecoding_0041": "Disabled",
        },
        "SR_IOVSupport_0047",
        "'0', '1'",
    ),
}


@pytest.mark.parametrize("vendor", sorted(REGISTRY_CASES))
def test_registry_checks_values_before_staging(emulator, tmp_path, vendor):
    """With the vendor's registry served, an apply whose values it allows runs and says it was
    checked; one whose value it refuses fails before anything is sent, naming the attribute, the
    value, the allowed values and the registry; the emulator keeps its values."""
    bios_file, off, wrong, allowed = REGISTRY_CASES[vendor]
    bios = json.loads((REGISTRIES / bios_file).read_text()) if bios_file else fixture(vendor)
    entry, document = registry(vendor)
    seed_vendor(emulator, vendor, bios, off)
    with vendor_front(emulator, bios, vendor, registry=(entry, document)) as (url, front):
        out = run_module(tmp_path, url, apply=True, **FAST)
        assert out.get("failed") is not True, out.get("msg")
        assert out["registry_check"] == {"registry": document["Id"], "checked": True, "refused": [], "msg": ""}
        assert set(out["staged"]) == set(off) and out["not_taken"] == []
        assert {name: current(emulator)[name] for name in off} == out["staged"]

        seed_vendor(emulator, vendor, bios, {**off, wrong: "Off"})
        patches, posts = len(sent(front, "PATCH")), len(sent(front, "POST"))
        refused = run_module(tmp_path, url, apply=True, **FAST)
        assert (len(sent(front, "PATCH")), len(sent(front, "POST"))) == (patches, posts)  # nothing staged, no reset
    assert refused["failed"] is True and refused["changed"] is False and refused["staged"] == {}
    assert refused["msg"] == (
        f"BIOS AttributeRegistry {document['Id']} refuses {wrong}='On': not an allowed value (allowed: {allowed})"
    )
    assert [r["attribute"] for r in refused["registry_check"]["refused"]] == [wrong]
    cause = {r["cause"] for r in refused["requirements"].values() if wrong in r["wanted"]}
    assert cause == {"refused_by_registry"}
    assert current(emulator)[wrong] == "Off"


def test_without_a_served_registry_the_result_says_unchecked(emulator, tmp_path):
    """The vendor's Bios names its registry but the BMC serves no such document (the emulator's own
    registry describes other attributes): apply runs as before and says the values were not checked."""
    seed_vendor(emulator, "dell")
    with vendor_front(emulator, fixture("dell"), "dell") as (url, _front):
        out = run_module(tmp_path, url, apply=True, **FAST)
    assert out.get("failed") is not True, out.get("msg")
    assert out["registry_check"]["checked"] is False and out["registry_check"]["registry"] is None
    assert "not checked" in out["registry_check"]["msg"]
