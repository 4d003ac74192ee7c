# Apache-2.0. Part of the redfish_bios module (Ansible ships it with the module). Pure.
"""What to do, per BMC vendor, when a BIOS attribute did not take after apply and reset."""

from ansible_collections.autoglm.provision.plugins.module_utils.redfish_bios_attributes import (
    KNOWN_ATTRIBUTES,
    base_name,
)

REMEDIATION = {
    "dell": "Dell iDRAC: the value waits for a BIOS config job. Check the job queue "
    "(/redfish/v1/Managers/iDRAC.Embedded.1/Jobs, or Lifecycle Controller): a failed or missing job leaves it "
    "pending; clear the pending value and apply again. By hand: System Setup (F2) > System BIOS > Processor "
    "Settings > Virtualization Technology; Integrated Devices > SR-IOV Global Enable and Memory Mapped I/O "
    "above 4GB.",
    "hpe": "HPE iLO: bios/settings applies at the next POST. Check the iLO event log for BIOS configuration "
    "errors, that Server Configuration Lock is off and that WorkloadProfile is Custom (a profile pins the "
    "values it governs). By hand: RBSU (F9) > System Configuration > BIOS/Platform Configuration > "
    "Virtualization Options (Intel VT-d / AMD IOMMU, SR-IOV); PCIe Device Configuration for ACS.",
    "lenovo": "Lenovo XClarity: Bios/Pending applies at the next reboot. Check the XCC event log; a setting "
    "can be gated by another (VT-d by Processors_IntelVirtualizationTechnology). By hand: UEFI Setup (F1) > "
    "System Settings > Devices and I/O Ports (Intel VT for Directed I/O, SR-IOV, PCI 64-Bit Resource "
    "Allocation) and Processors (PCIe ACS Control).",
    "supermicro": "Supermicro: Bios/SD applies at the next reboot and needs the If-Match ETag; BIOS changes "
    "through Redfish may need the BMC's SFT-DCMS-SINGLE / OOB license. By hand: BIOS Setup (Del) > Advanced > "
    "Chipset Configuration > North Bridge > IIO Configuration (Intel VT for Directed I/O, PCIe ACS Control) "
    "and Advanced > PCIe/PCI/PnP Configuration (SR-IOV Support, Above 4G Decoding).",
    "generic": "Set the value in the BIOS setup menu by hand, or check the BMC's event log and job list for "
    "why the pending BIOS setting was not applied.",
}
VENDOR_WORDS = (
    ("dell", "dell"),
    ("hpe", "hpe"),
    ("hewlett", "hpe"),
    ("lenovo", "lenovo"),
    ("supermicro", "supermicro"),
)


def vendor_of(manufacturer, attributes):
    """dell, hpe, lenovo, supermicro or generic: from the system's Manufacturer, else from who uses
    the attribute names (KNOWN_ATTRIBUTES)."""
    clues = [manufacturer or ""]
    owners = {name: who for entries in KNOWN_ATTRIBUTES.values() for name, who in entries}
    clues += [owners.get(base_name(a), "") for a in attributes]
    for clue in clues:
        for word, vendor in VENDOR_WORDS:
            if clue.lower().startswith(word):
                return vendor
    return "generic"


def remediation(manufacturer, missed):
    """One text naming the attributes that did not take and the vendor's way to fix them."""
    names = [m["attribute"] for m in missed]
    listed = ", ".join(f"{m['attribute']} (expected {m['expected']!r}, read {m['read']!r})" for m in missed)
    return f"Not applied after the reset: {listed}. {REMEDIATION[vendor_of(manufacturer, names)]}"
