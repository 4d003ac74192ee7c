"""redfish_bios against real Redfish services on 127.0.0.1 (nothing else is reached).

- sushy-emulator with libvirt's in-process test hypervisor (test:///default) and HTTP basic auth:
  its libvirt driver keeps BIOS attributes in the domain's metadata; each test first resets them
  (Bios.ResetBios) and PATCHes a vendor's attribute set (Dell, HPE, Lenovo, Intel names), then runs
  the module. The emulator applies PATCHes at once (a real BMC keeps them pending until a reboot).
  Its own BIOS AttributeRegistry (BiosAttributeRegistryP89.v1_0_0) describes its default attributes
  only, so staging a vendor's attribute directly on it is refused by that registry; staging runs
  through the Dell model of tests/integration/redfish_vendor_front.py (pending values, and a Bios
  that names Dell's registry, which this BMC does not serve).
- sushy-emulator --fake: a BMC whose system has no Bios resource.
- sushy-static over mockup files written here: a vendor with unknown attribute names whose
  AttributeRegistry (served through /redfish/v1/Registries) gives the display names.
- a TCP listener that accepts and never answers: a hung BMC (timeout path); a closed port: unreachable.
The module runs as Ansible runs it: its file executed with an args file (password never on argv).
The services and their helpers: tests/integration/redfish_services.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from provisioner import paths

from .redfish_services import BIN, PASSWORD, USER, current, free_port, seed, serve, sushy_emulator
from .redfish_vendor_front import vendor_front

DELL_BIOS = Path(__file__).parents[1] / "fixtures" / "redfish_bios" / "dell.json"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """sushy-emulator on libvirt test:///default with basic auth; yields (base url, system path)."""
    with sushy_emulator(tmp_path_factory.mktemp("emu")) as emu:
        yield emu


def run_module(tmp_path: Path, base: str, password: str = PASSWORD, check_mode: bool = False, **args) -> dict:
    params = {"address": base, "username": USER, "password": password, "timeout": 5, **args}
    if check_mode:
        params["_ansible_check_mode"] = True
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    args_file.chmod(0o600)
    started = time.monotonic()
    # The module file run as Ansible runs it on the controller, with its module_utils importable as
    # ansible_collections.autoglm.provision.plugins.module_utils (Ansible ships them in the AnsiballZ
    # payload; here the collection directory on PYTHONPATH stands in for that).
    pythonpath = os.pathsep.join(p for p in (str(paths.COLLECTIONS_PATH), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, str(paths.COLLECTION / "plugins" / "modules" / "redfish_bios.py"), str(args_file)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=pythonpath),
    )
    out = json.loads(proc.stdout)
    out["_elapsed"] = time.monotonic() - started
    assert PASSWORD not in proc.stdout + proc.stderr
    return out


def verdicts(out: dict) -> dict:
    return {k: v["verdict"] for k, v in out["requirements"].items()}


def test_dell_attributes(emulator, tmp_path):
    seed(emulator, {"ProcVirtualization": "Enabled", "SriovGlobalEnable": "Disabled", "MmioAbove4Gb": "Enabled"})
    out = run_module(tmp_path, emulator[0])
    assert out["bmc_status"] == "ok" and out["changed"] is False
    assert verdicts(out) == {"iommu": "PASS", "sriov": "FAIL", "above_4g": "PASS"}
    sriov = out["requirements"]["sriov"]
    assert sriov["attributes"] == {"SriovGlobalEnable": "Disabled"}
    assert "SriovGlobalEnable=Enabled" in sriov["remediation"]
    assert out["system"]["id"] == emulator[1].rsplit("/", 1)[1]


def test_hpe_and_lenovo_and_intel_attributes(emulator, tmp_path):
    seed(emulator, {"ProcVirtualization": "Enabled", "IntelProcVtd": "Disabled", "Sriov": "Enabled"})
    out = run_module(tmp_path, emulator[0])
    assert verdicts(out) == {"iommu": "FAIL", "sriov": "PASS", "above_4g": "UNKNOWN"}
    assert out["requirements"]["iommu"]["wanted"] == {"IntelProcVtd": "Enabled"}
    assert out["requirements"]["above_4g"]["cause"] == "attribute_not_found"

    seed(
        emulator,
        {
            "Processors_IntelVTforDirectedIOVTd": "Enable",
            "VTdSupport": "Disable",
            "SRIOVEnable": "Enable",
            "DevicesandIOPorts_Above4GBDecoding": "Enable",
        },
    )
    out = run_module(tmp_path, emulator[0])
    assert verdicts(out) == {"iommu": "FAIL", "sriov": "PASS", "above_4g": "PASS"}
    assert out["requirements"]["iommu"]["wanted"] == {"VTdSupport": "Enable"}


def test_stage_check_mode_then_real_then_idempotent(emulator, tmp_path):
    """Staging on the Dell model (no registry served for its Bios): the values wait at Bios/Settings."""
    wanted = {"SriovGlobalEnable": "Enabled", "MmioAbove4Gb": "Enabled"}
    seed(emulator, {"ProcVirtualization": "Enabled", "SriovGlobalEnable": "Disabled", "MmioAbove4Gb": "Disabled"})
    with vendor_front(emulator, json.loads(DELL_BIOS.read_text()), "dell") as (url, front):
        dry = run_module(tmp_path, url, stage=True, check_mode=True)
        assert dry["changed"] is True and dry["staged"] == wanted
        assert front.pending == {} and current(emulator)["SriovGlobalEnable"] == "Disabled"  # check mode sent nothing

        staged = run_module(tmp_path, url, stage=True)
        assert staged["changed"] is True and staged["rebooted"] is False
        assert staged["requirements"]["sriov"]["cause"] == "pending_reboot"
        assert staged["registry_check"]["checked"] is False
        assert front.pending == wanted  # held by the front, read without sushy

        again = run_module(tmp_path, url, stage=True)
    assert again["changed"] is False and again["staged"] == {}
    assert {r["cause"] for r in again["requirements"].values() if r["verdict"] == "FAIL"} == {"pending_reboot"}


def test_stage_refused_by_the_emulators_own_registry(emulator, tmp_path):
    """Directly on the emulator, its Bios names BiosAttributeRegistryP89.v1_0_0 and serves it (a
    Registries entry with another id, as on a Dell iDRAC): that registry has no SriovGlobalEnable,
    so the stage fails before anything is sent."""
    seed(emulator, {"ProcVirtualization": "Enabled", "SriovGlobalEnable": "Disabled", "MmioAbove4Gb": "Enabled"})
    out = run_module(tmp_path, emulator[0], stage=True)
    assert out["failed"] is True and out["changed"] is False and out["staged"] == {}
    assert out["registry_check"]["registry"] == "BiosAttributeRegistryP89.v1_0_0"
    assert out["msg"] == (
        "BIOS AttributeRegistry BiosAttributeRegistryP89.v1_0_0 refuses "
        "SriovGlobalEnable='Enabled': no such attribute in the registry"
    )
    assert current(emulator)["SriovGlobalEnable"] == "Disabled"


def test_bad_credentials(emulator, tmp_path):
    out = run_module(tmp_path, emulator[0], password="wrong-" + PASSWORD[::-1])
    assert out["bmc_status"] == "auth_failed"
    assert set(verdicts(out).values()) == {"UNKNOWN"}
    assert "refused the credentials (HTTP 401)" in out["requirements"]["iommu"]["evidence"][0]
    assert "wrong-" not in json.dumps(out)


def test_hung_bmc_times_out(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(listener.accept()[0]) for _ in range(8)], daemon=True).start()
    try:
        out = run_module(tmp_path, f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=2)
    finally:
        listener.close()
    assert out["bmc_status"] == "timeout"
    assert "timed out" in out["requirements"]["sriov"]["evidence"][0]
    assert out["_elapsed"] < 20


def test_unreachable_bmc(tmp_path):
    out = run_module(tmp_path, f"http://127.0.0.1:{free_port()}", timeout=2)
    assert out["bmc_status"] == "unreachable" and out["_elapsed"] < 20


def test_bmc_without_bios_resource(tmp_path):
    port = free_port()
    (tmp_path / "fake.conf").write_text(
        f"SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\nSUSHY_EMULATOR_LISTEN_PORT = {port}\n"
    )
    argv = [str(BIN / "sushy-emulator"), "--config", str(tmp_path / "fake.conf"), "--fake"]
    with serve(argv, f"http://127.0.0.1:{port}/redfish/v1/Systems", tmp_path / "fake.log") as base:
        out = run_module(tmp_path, base)
    assert out["bmc_status"] == "no_bios_resource"
    assert set(verdicts(out).values()) == {"UNKNOWN"}
    assert "has no Redfish Bios resource" in out["requirements"]["iommu"]["evidence"][0]


def mockup(root: Path) -> None:
    """A vendor BMC with attribute names nobody maps; only its AttributeRegistry names them."""

    def put(path: str, body: dict) -> None:
        (root / path).mkdir(parents=True, exist_ok=True)
        (root / path / "index.json").write_text(
            json.dumps({"@odata.id": "/redfish/v1/" + path if path else "/redfish/v1", **body})
        )

    registry = "AcmeBiosAttributeRegistry.1.2.0"
    put(
        "",
        {
            "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
            "Id": "RootService",
            "Name": "Root Service",
            "RedfishVersion": "1.6.0",
            "Systems": {"@odata.id": "/redfish/v1/Systems"},
            "Registries": {"@odata.id": "/redfish/v1/Registries"},
        },
    )
    put(
        "Systems",
        {
            "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
            "Name": "Systems",
            "Members": [{"@odata.id": "/redfish/v1/Systems/Self"}],
            "Members@odata.count": 1,
        },
    )
    put(
        "Systems/Self",
        {
            "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
            "Id": "Self",
            "Name": "Acme",
            "Manufacturer": "Acme",
            "Model": "GX-8",
            "BiosVersion": "2.4.1",
            "Bios": {"@odata.id": "/redfish/v1/Systems/Self/Bios"},
        },
    )
    put(
        "Systems/Self/Bios",
        {
            "@odata.type": "#Bios.v1_1_0.Bios",
            "Id": "Bios",
            "Name": "BIOS",
            "AttributeRegistry": registry,
            "Attributes": {"Cfg0x1A2": "Disabled", "Cfg0x1B7": "Enabled", "Cfg0x2C0": "Enabled"},
            "@Redfish.Settings": {
                "@odata.type": "#Settings.v1_3_0.Settings",
                "SettingsObject": {"@odata.id": "/redfish/v1/Systems/Self/Bios/Settings"},
            },
        },
    )
    put(
        "Systems/Self/Bios/Settings",
        {
            "@odata.type": "#Bios.v1_1_0.Bios",
            "Id": "Settings",
            "Name": "Pending",
            "Attributes": {"Cfg0x1A2": "Enabled"},
        },
    )
    put(
        "Registries",
        {
            "@odata.type": "#MessageRegistryFileCollection.MessageRegistryFileCollection",
            "Name": "Registries",
            "Members": [{"@odata.id": "/redfish/v1/Registries/" + registry}],
            "Members@odata.count": 1,
        },
    )
    put(
        "Registries/" + registry,
        {
            "@odata.type": "#MessageRegistryFile.v1_1_0.MessageRegistryFile",
            "Id": registry,
            "Name": "BIOS registry",
            "Languages": ["en"],
            "Registry": registry,
            "Location": [{"Language": "en", "Uri": "/redfish/v1/RegistryStore/" + registry}],
        },
    )
    entry = [
        ("Cfg0x1A2", "Intel(R) VT for Directed I/O"),
        ("Cfg0x1B7", "SR-IOV Support"),
        ("Cfg0x2C0", "Above 4G Decoding"),
    ]
    put(
        "RegistryStore/" + registry,
        {
            "@odata.type": "#AttributeRegistry.v1_3_0.AttributeRegistry",
            "Id": registry,
            "Name": "Acme BIOS",
            "Language": "en",
            "OwningEntity": "Acme",
            "RegistryVersion": "1.2.0",
            "RegistryEntries": {
                "Attributes": [
                    {
                        "AttributeName": n,
                        "DisplayName": d,
                        "Type": "Enumeration",
                        "Value": [{"ValueName": "Disabled"}, {"ValueName": "Enabled"}],
                    }
                    for n, d in entry
                ]
            },
        },
    )


def test_registry_display_name_fallback_and_pending(tmp_path):
    mockup(tmp_path / "mockup")
    port = free_port()
    argv = [str(BIN / "sushy-static"), "-i", "127.0.0.1", "-p", str(port), "-m", str(tmp_path / "mockup")]
    with serve(argv, f"http://127.0.0.1:{port}/redfish/v1/Systems", tmp_path / "static.log") as base:
        out = run_module(tmp_path, base, verify_tls="false")
    assert verdicts(out) == {"iommu": "FAIL", "sriov": "PASS", "above_4g": "PASS"}
    iommu = out["requirements"]["iommu"]
    assert iommu["cause"] == "pending_reboot" and iommu["pending"] == {"Cfg0x1A2": "Enabled"}
    assert "registry: Intel(R) VT for Directed I/O" in iommu["evidence"][0]
    assert out["registry_entries"] == 3
