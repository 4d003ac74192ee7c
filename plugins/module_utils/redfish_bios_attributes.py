# Apache-2.0. Part of the redfish_bios module (Ansible ships it with the module; it runs on the
# controller). Pure: no Redfish client.
"""Interpret a Bios resource's attributes: which vendor attribute stands for which requirement
(iommu, sriov, above_4g), whether it is on, the value that switches it on, and the verdict."""

import re

# Attribute names by requirement: (name, who uses it). Every listed attribute present on the system
# must be enabled (HPE gates IntelProcVtd behind ProcVirtualization; Dell's ProcVirtualization
# alone switches VT-x and VT-d).
KNOWN_ATTRIBUTES = {
    "iommu": [
        ("IntelProcVtd", "HPE (Intel)"),
        ("ProcAmdIOMMU", "HPE (AMD)"),
        ("ProcAmdIoVt", "HPE (AMD, Gen10 Plus)"),
        ("Processors_IntelVTforDirectedIOVTd", "Lenovo"),
        ("DevicesandIOPorts_IntelVTforDirectedIOVTd", "Lenovo (XCC)"),
        ("VTdSupport", "Intel"),
        ("IntelVTForDirectedIO", "Supermicro"),
        ("IntelVTforDirectedI/O(VT-d)", "Supermicro"),
        ("ProcVirtualization", "Dell/HPE"),
    ],
    "sriov": [
        ("SriovGlobalEnable", "Dell"),
        ("Sriov", "HPE"),
        ("SRIOVEnable", "Intel"),
        ("DevicesandIOPorts_SRIOV", "Lenovo"),
        ("SRIOVSupport", "Supermicro"),
        ("SR-IOVSupport", "Supermicro"),
    ],
    "above_4g": [
        ("MmioAbove4Gb", "Dell"),
        ("DevicesandIOPorts_Above4GBDecoding", "Lenovo"),
        ("MMIOAbove4GB", "Intel"),
        ("Above4GDecoding", "Supermicro"),
        ("DevicesandIOPorts_PCI64BitResourceAllocation", "Lenovo (XCC)"),
    ],
}
# Values that mean "on" for one attribute only: Lenovo's PCI 64-Bit Resource Allocation ships as
# Auto (seen in a real XCC Bios resource, tests/fixtures/redfish_bios/lenovo.json), which maps
# 64-bit BARs above 4 GiB whenever a device asks for it.
ALSO_ON = {"DevicesandIOPorts_PCI64BitResourceAllocation": {"auto"}}
# Supermicro suffixes each attribute name with its setup-question id ("SR-IOVSupport#0048"); the id
# differs between boards and BIOS builds, so names are compared without it.
SUPERMICRO_SUFFIX = re.compile(r"#[0-9A-Fa-f]{4}$")
DISPLAY_NAME = {
    "iommu": re.compile(r"VT-?d\b|Directed I/?O|\bIOMMU\b|AMD-?Vi\b", re.I),
    "sriov": re.compile(r"SR-?IOV", re.I),
    "above_4g": re.compile(r"Above\s*4\s*G|above 4 ?GB|4G\s*Decod|64-?bit MMIO", re.I),
}
ENABLED = {"enabled", "enable", "on", "true", "yes"}
ON_FOR_OFF = {"disabled": "Enabled", "disable": "Enable", "off": "On", "false": "True", "no": "Yes"}


def is_enabled(value, name=None):
    text = str(value).strip().lower()
    return value is True or text in ENABLED or text in ALSO_ON.get(base_name(name or ""), ())


def base_name(attribute):
    return SUPERMICRO_SUFFIX.sub("", attribute)


def attribute_key(name, attributes):
    """The key under which this system holds the attribute called name (exact, else Supermicro's
    suffixed form), or None."""
    if name in attributes:
        return name
    return next((key for key in attributes if base_name(key) == name), None)


def enabled_value(current, allowed):
    """The value that switches an attribute on: from the registry's allowed values, else by symmetry."""
    if isinstance(current, bool):
        return True
    for value in allowed or []:
        name = value.get("ValueName") if isinstance(value, dict) else value
        if name is not None and is_enabled(name):
            return name
    return ON_FOR_OFF.get(str(current).strip().lower(), "Enabled")


def registry_matches(registry_entries, attributes):
    """{requirement: [(name, display name, allowed values)]} from the AttributeRegistry's display names."""
    found = {}
    for entry in registry_entries or []:
        name, display = entry.get("AttributeName"), entry.get("DisplayName") or ""
        if name not in attributes:
            continue
        for req, pattern in DISPLAY_NAME.items():
            if pattern.search(display):
                found.setdefault(req, []).append((name, display, entry.get("Value")))
    return found


def judge(req, attributes, pending, extra_names, registry):
    """Verdict for one requirement from the attribute map (pure: what the unit tests call)."""
    names = [(n, "inventory") for n in extra_names] + KNOWN_ATTRIBUTES.get(req, [])
    keys = [(attribute_key(n, attributes), who) for n, who in names]
    present = [(key, who, None) for key, who in keys if key is not None]
    source = "attribute name"
    if not present:
        present = [(n, f"registry: {d}", allowed) for n, d, allowed in registry.get(req, [])]
        source = "AttributeRegistry display name"
    out = {"attributes": {n: attributes[n] for n, _w, _a in present}, "pending": {}, "evidence": [], "wanted": {}}
    if not present:
        out.update(
            verdict="UNKNOWN",
            cause="attribute_not_found",
            evidence=[
                f"no known BIOS attribute for {req} among {len(attributes)} attributes (and none in the registry)"
            ],
            remediation=f"Add this vendor's attribute name to bios_check_bmc_extra_attributes.{req}.",
        )
        return out
    for name, who, allowed in present:
        value = attributes[name]
        note = ""
        if name in pending and pending[name] != value:
            out["pending"][name] = pending[name]
            note = f", pending {pending[name]!r} until the next reboot"
        out["evidence"].append(f"Bios attribute {name} = {value!r} ({who}, by {source}{note})")
        if not is_enabled(value, name):
            out["wanted"][name] = enabled_value(value, allowed)
    if out["wanted"]:
        staged = all(is_enabled(out["pending"].get(n)) for n in out["wanted"])
        out.update(
            verdict="FAIL",
            cause="pending_reboot" if staged else "disabled_in_bios",
            remediation="Set {} in the BIOS (bios_check_bmc_stage_changes: true stages it as a pending "
            "setting through Redfish; it applies at the next reboot){}.".format(
                ", ".join("{}={}".format(*kv) for kv in out["wanted"].items()),
                ": already staged, reboot the host" if staged else "",
            ),
        )
    else:
        out.update(verdict="PASS", cause=None, remediation="")
    return out


def error_result(reqs, cause, message, remediation):
    return {
        r: {
            "verdict": "UNKNOWN",
            "cause": cause,
            "evidence": [message],
            "remediation": remediation,
            "attributes": {},
            "pending": {},
            "wanted": {},
        }
        for r in reqs
    }
