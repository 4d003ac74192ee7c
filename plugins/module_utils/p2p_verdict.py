# Apache-2.0. Part of the pcie_p2p module (Ansible ships it with the module): Python 3.8+
# standard library only, it runs on targets.
"""The P2P path verdict: pure over the platform that pcie_paths builds (from sysfs or lspci).

Where the traffic goes: between two endpoints A and B, a peer request enters the bridges below
their lowest common bridge (a switch's downstream ports, nested switches). ACS P2P Request
Redirect / Completion Redirect there send it up to the root complex instead of across the switch
(halved bandwidth, the IOMMU in the path). Bridges above the common bridge never see that traffic:
they are reported, not judged. A and B without a common bridge (different root ports) talk through
the root complex, where the root ports' redirect bits apply to peer requests between root ports, so
every bridge of both paths is judged (conservative: the deeper ones cannot make it pass). Source
Validation alone does not re-route, but with a translating IOMMU domain (DMA / DMA-FQ) the peer's
requests are checked and translated upstream too, so it is judged with the domain.

Verdicts: FAIL (redirect or source validation with translation on a GPU-GPU / GPU-NIC path,
unassigned GPU BAR), UNKNOWN (a bridge on such a path unreadable, a path the tree cannot tell),
WARN (translated IOMMU domain: iommu=pt missing), NOT_APPLICABLE (no GPU; one GPU and no RDMA NIC
and P2P not required: reported only), PASS."""

from ansible_collections.autoglm.provision.plugins.module_utils.bios_common import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    result,
)
from ansible_collections.autoglm.provision.plugins.module_utils.pcie_acs import UNREADABLE

WARN = "WARN"
REDIRECT_BITS = ("ReqRedir", "CmpltRedir")
TRANSLATED = ("DMA", "DMA-FQ")
# BIOS menu items that turn ACS off on the PCIe ports. Sourcing (docs/bios.md says the same):
# Supermicro's "ACS Control" item and the Dell/HPE paths come from a third-party article (CSDN,
# 2025) and are NOT confirmed by vendor documentation; no Lenovo item was found. Hence "if offered".
# The generic AMD/AMI item is from luigifcruz/stelline's docs/system-configuration.md (a project's
# own server notes, not a vendor document).
ACS_MENU = {
    "supermicro": "Advanced > Chipset Configuration > North Bridge > IIO Configuration > Intel VT for Directed I/O "
    "(VT-d) > ACS Control = Disable (if offered)",
    "dell": "System Setup > System BIOS > Integrated Devices: an ACS / PCIe ACS item = Disabled (if offered by "
    "this model; unconfirmed)",
    "hpe": "System Utilities > System Configuration > BIOS/Platform Configuration (RBSU) > PCIe / IOMMU options: "
    "an ACS item = Disabled (if offered; unconfirmed)",
    "lenovo": "no ACS item is documented for ThinkSystem UEFI (none found): use the setpci unit below",
    "": "a PCIe 'ACS' / 'ACS Control' item = Disabled, where the firmware offers one (AMD platforms with AMI "
    "firmware: Advanced > NB Configuration > ACS Enable = Disabled)",
}
SETPCI_HINT = ("or set bios_check_acs_clear_redirect: true: the role installs autoglm-acs-clear.service, which "
               "clears SrcValid/ReqRedir/CmpltRedir on the bridges above every GPU and RDMA NIC at each boot "
               "with setpci (NVIDIA NCCL troubleshooting guide, 'PCI Access Control Services'); this lowers the "
               "IOMMU isolation between those devices")


def _pairs(endpoints, require_p2p):
    gpus = [ep for ep in endpoints if ep["kind"] == "gpu"]
    nics = [ep for ep in endpoints if ep["kind"] == "nic"]
    pairs = [(a, b) for i, a in enumerate(gpus) for b in gpus[i + 1:]] + [(g, n) for g in gpus for n in nics]
    matters = len(gpus) > 1 or bool(gpus and nics) or bool(require_p2p and gpus)
    return gpus, nics, pairs, matters


def below_common(path_a, path_b):
    """Bridges of both paths below their lowest common bridge (all of both, root ports included,
    when none is common)."""
    common = set(path_a) & set(path_b)
    side_a = [b for b in path_a if b not in common]
    side_b = [b for b in path_b if b not in common]
    return side_a + side_b


def _bridge_findings(bdf, bridge, translated):
    """The judged bits of one bridge on a P2P path: (bits, unreadable)."""
    acs = bridge.get("acs") if bridge else UNREADABLE
    if acs == UNREADABLE:
        return [], True
    if not acs:
        return [], False
    bits = [b for b in REDIRECT_BITS if b in acs["ctl"]]
    if "SrcValid" in acs["ctl"] and translated:
        bits.insert(0, "SrcValid")
    return bits, False


def judge_paths(platform, pairs):
    """{bridge: bits} on pair paths, unreadable bridges, endpoints with unknown paths."""
    findings, unreadable, unknown = {}, set(), set()
    for a, b in pairs:
        if a["path"] is None or b["path"] is None:
            unknown.update(ep["bdf"] for ep in (a, b) if ep["path"] is None)
            continue
        if not set(a["path"]) & set(b["path"]):
            # No common bridge recorded: the pair's traffic climbs above the recorded part of a
            # path that stops at a switch port, through bridges the snapshot does not hold.
            unknown.update(ep["bdf"] for ep in (a, b) if not ep.get("path_complete", True))
        translated = a["domain"] in TRANSLATED or b["domain"] in TRANSLATED or platform["source"] == "lspci"
        for bdf in below_common(a["path"], b["path"]):
            bits, blind = _bridge_findings(bdf, platform["bridges"].get(bdf), translated)
            if blind:
                unreadable.add(bdf)
            elif bits:
                findings.setdefault(bdf, {"bits": bits, "between": []})["between"].append("{}<->{}".format(
                    a["bdf"], b["bdf"]))
    return findings, sorted(unreadable), sorted(unknown)


def _orphans(platform):
    """ACSCtl lines of unknown bridges (grep-only snapshots): each could be on a GPU path and the
    IOMMU domain is unknown, so redirect or source validation on any of them counts."""
    judged = set(REDIRECT_BITS) | {"SrcValid"}
    redirect = [bits for bits in platform.get("orphan_acs") or [] if judged & set(bits)]
    return len(redirect), len(platform.get("orphan_acs") or [])


def _evidence(platform, gpus, nics, findings):
    """Evidence lines: the judged findings first (the gate's message shows the first few), then
    what was seen - endpoints with their paths, IOMMU groups and ATS, and every bridge's ACSCtl."""
    lines = []
    for bdf, item in sorted(findings.items()):
        bits, between = "+ ".join(item["bits"]) + "+", ", ".join(item["between"][:4])
        lines.append(f"bridge {bdf}: {bits} on the P2P path {between}")
    others = [ep for ep in platform["endpoints"] if ep["kind"] == "other"]
    walked = f", {len(others)} other endpoint(s) walked on request (not judged)" if others else ""
    lines.append("{} NVIDIA GPU(s), {} RDMA NIC(s) ({}){}".format(len(gpus), len(nics), platform["source"], walked))
    for ep in gpus + nics + others:
        lines.append("{} {} {}:{} path {}{} iommu_group {} domain {}{}".format(
            ep["kind"], ep["bdf"], ep["vendor"], ep["device"], " > ".join(ep["path"] or []) or
            ("root bus" if ep["path"] == [] else "unknown"),
            " (recorded only up to a switch port)" if ep["path"] and not ep.get("path_complete", True) else "",
            ep["iommu_group"], ep["domain"],
            "" if not isinstance(ep.get("ats"), dict) else " ATS {}".format(
                "enabled" if ep["ats"]["enabled"] else "present" if ep["ats"]["present"] else "absent")))
    for bdf, bridge in sorted(platform["bridges"].items()):
        acs = bridge.get("acs")
        lines.append("bridge {}: {}".format(bdf, "ACS unreadable" if acs == UNREADABLE else "no ACS capability"
                                            if not acs else "ACSCtl " + (" ".join(acs["ctl"]) or "all off")))
    return lines


def remediation(findings, vendor_key, system_vendor):
    where = system_vendor or "this system"
    menu = ACS_MENU.get(vendor_key) or ACS_MENU[""]
    bridges = ", ".join(sorted(findings)) or "the bridges named in the evidence"
    return (f"ACS redirect on {bridges} sends GPU peer traffic through the root complex (NCCL: halved P2P / GPUDirect "
            "RDMA bandwidth, hangs). Keep VT-d/IOMMU on (SR-IOV needs it) and turn ACS redirect off: in the "
            f"BIOS/UEFI setup of {where}: {menu}; {SETPCI_HINT}.")


def _unassigned_bars(gpus):
    return ["{} BAR{} ({} bytes) not assigned".format(ep["bdf"], bar["bar"], bar["size"])
            for ep in gpus for bar in ep["bars"] if not bar["assigned"]]


def judge(platform, require_p2p=False, vendor_key="", system_vendor="", clear_unit=False):
    """The verdict (bios_common.result shape) of one platform."""
    if not isinstance(platform, dict) or "endpoints" not in platform or "bridges" not in platform:
        raise ValueError("judge needs a platform from pcie_paths.from_sysfs or from_lspci")
    gpus, nics, pairs, matters = _pairs(platform["endpoints"], require_p2p)
    findings, unreadable, unknown = judge_paths(platform, pairs)
    orphan_redirects, orphan_lines = _orphans(platform)
    evidence = _evidence(platform, gpus, nics, findings)
    translated = sorted({ep["domain"] for ep in gpus + nics if ep["domain"] in TRANSLATED})
    details = {"p2p_matters": matters, "redirect_bridges": findings, "unreadable_bridges": unreadable,
               "unknown_paths": unknown, "translated_domains": translated, "clear_unit": bool(clear_unit),
               "orphan_acs_lines": orphan_lines, "orphan_redirect_lines": orphan_redirects}
    if clear_unit:
        evidence.append("autoglm-acs-clear.service is installed: ACS redirect bits are cleared at boot "
                        "(bios_check_acs_clear_redirect)")
    return _decide(evidence, details, gpus, matters or orphan_lines > 0, vendor_key, system_vendor)


def _decide(evidence, details, gpus, matters, vendor_key, system_vendor):
    findings, bars = details["redirect_bridges"], _unassigned_bars(gpus)
    if details["orphan_redirect_lines"]:
        evidence.insert(0, "{} of {} ACSCtl lines of unattributed bridges have SrcValid, ReqRedir or "
                        "CmpltRedir on".format(details["orphan_redirect_lines"], details["orphan_acs_lines"]))
        findings = dict(findings, unattributed={"bits": ["SrcValid"] + list(REDIRECT_BITS), "between": []})
    if not gpus and not details["orphan_acs_lines"]:
        return result(NOT_APPLICABLE, "no_gpu", evidence, "", details)
    if bars:
        return result(FAIL, "bar_unassigned", bars + evidence, "GPU BARs without an address: enable Above 4G "
                      "Decoding (and a large enough MMIO-high window) in the BIOS.", details)
    if not matters:
        note = "one GPU and no RDMA NIC: P2P is not used here (set bios_check_require_p2p to judge it)"
        return result(NOT_APPLICABLE, "p2p_not_used", evidence + [note], "", details)
    if findings:
        return result(FAIL, "acs_redirect", evidence, remediation(findings, vendor_key, system_vendor), details)
    if details["unreadable_bridges"]:
        evidence.append("ACS of {} cannot be read".format(", ".join(details["unreadable_bridges"])))
        return result(UNKNOWN, "unreadable", evidence, "Run the check as root (become: true): config space "
                      "past 64 bytes is readable by root only.", details)
    if details["unknown_paths"]:
        evidence.append("the bridges above {} are not known".format(", ".join(details["unknown_paths"])))
        return result(UNKNOWN, "path_unknown", evidence, "Judge the whole topology: run the check on the host, "
                      "or record the full 'sudo lspci -vvv' (bridges included).", details)
    if details["translated_domains"]:
        return result(WARN, "iommu_translated", evidence + ["IOMMU domain type {} (translated) on GPU/NIC groups"
                      .format("/".join(details["translated_domains"]))], "Boot with iommu=pt (passthrough; "
                      "SR-IOV keeps working): bios_check_apply_kernel_params with bios_check_iommu_passthrough.",
                      details)
    return result(PASS, None, evidence, "", details)
