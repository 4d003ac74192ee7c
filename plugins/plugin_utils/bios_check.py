"""bios_check_report: merge the in-band and the Redfish verdicts into the host's report and gate."""

REQUIREMENTS = ("iommu", "sriov", "above_4g", "p2p")
LABELS = {"iommu": "VT-d / AMD-Vi (IOMMU)", "sriov": "SR-IOV", "above_4g": "Above 4G Decoding",
          "p2p": "PCIe P2P paths (ACS, IOMMU mode, BARs)"}
# Judged in-band only (module pcie_p2p): the BMC has no view of them.
IN_BAND_ONLY = ("p2p",)


def _view(result):
    """A requirement result without the bulky details (those stay in the registered variable)."""
    if not result:
        return None
    keep = ("verdict", "cause", "evidence", "remediation", "attributes", "pending")
    if result.get("details", {}).get("redirect_bridges") is not None:  # pcie_p2p: the bridges, for the report
        return dict({k: result[k] for k in keep if k in result},
                    redirect_bridges=sorted(result["details"]["redirect_bridges"]),
                    translated_domains=result["details"].get("translated_domains", []))
    return {k: result[k] for k in keep if k in result}


def _in_band_only():
    """The stand-in of an in-band-only requirement on a host that was not probed in-band."""
    return {
        "verdict": "NOT_APPLICABLE",
        "cause": "in_band_only",
        "evidence": ["judged in-band only; this host was not probed in-band"],
        "remediation": "",
    }


def _with_p2p(in_reqs, p2p):
    """bios_prereq's requirements plus pcie_p2p's verdict as ``p2p`` (UNKNOWN when the module failed)."""
    in_reqs = dict(in_reqs)
    if p2p and p2p.get("p2p"):
        in_reqs["p2p"] = p2p["p2p"]
    elif p2p:  # the module itself failed (e.g. unreadable lspci_path)
        in_reqs["p2p"] = {"verdict": "UNKNOWN", "cause": "probe_error", "evidence": [p2p.get("msg") or "no answer"],
                          "remediation": "Fix the P2P probe (see evidence)."}
    return in_reqs


def _views(name, ib, oob, redfish):
    """(in-band view, BMC view) of one requirement, with the stand-ins for a missing answer."""
    if name in IN_BAND_ONLY:
        return ib or _in_band_only(), None
    if redfish and not oob:  # the module itself failed (e.g. no sushy on the controller)
        oob = {
            "verdict": "UNKNOWN",
            "cause": "bmc_error",
            "evidence": [redfish.get("msg") or "no answer"],
            "remediation": "Fix the BMC check (see evidence).",
        }
    return ib, oob


def _entry(name, ib, oob, mandatory):
    """One requirement's report entry: the kernel's view decides when it has one, the BMC's
    settings otherwise."""
    chosen, source = (ib, "in_band") if ib and ib["verdict"] != "UNKNOWN" else (oob, "redfish")
    if not chosen:
        not_checked = {"verdict": "UNKNOWN", "cause": "not_checked", "evidence": [],
                       "remediation": "Configure a BMC or run the in-band check."}
        chosen, source = ib or not_checked, "none"
    return {
        "label": LABELS[name],
        "mandatory": name in mandatory,
        "source": source,
        "verdict": chosen["verdict"],
        "cause": chosen.get("cause"),
        "evidence": list(chosen.get("evidence") or []),
        "remediation": chosen.get("remediation", ""),
        "in_band": _view(ib),
        "redfish": _view(oob),
    }


def _entry_warnings(name, entry, ib, oob, bad):
    """The operator's warnings about one requirement (disagreement, staged change, optional miss)."""
    label, warnings = LABELS[name], []
    if ib and oob and {ib["verdict"], oob["verdict"]} == {"PASS", "FAIL"}:
        warnings.append("{}: in-band says {} but the BMC's BIOS attributes say {} ({})".format(
            label, ib["verdict"], oob["verdict"], "; ".join(oob.get("evidence", []))))
    if oob and oob.get("cause") == "pending_reboot":
        warnings.append(f"{label}: BIOS change staged on the BMC, pending a reboot")
    if entry["verdict"] == "WARN":
        warnings.append("{}: {}".format(label, entry["remediation"]))
    elif entry["verdict"] in ("FAIL", "UNKNOWN") and not (bad and entry["mandatory"]):
        warnings.append(f"{label}: {entry['verdict']} (not mandatory for this host): {entry['remediation']}")
    return warnings


def bios_check_report(inband, redfish, mandatory, fail_on_unknown=True, reboot_pending=False, p2p=None):
    """inband: bios_prereq's result or None; redfish: redfish_bios's result or None; p2p:
    pcie_p2p's result or None (its ``p2p`` verdict becomes the requirement of that name)."""
    in_reqs = _with_p2p((inband or {}).get("requirements") or {}, p2p)
    bmc_reqs = (redfish or {}).get("requirements") or {}
    requirements, failed, warnings = {}, [], []
    for name in REQUIREMENTS:
        ib, oob = _views(name, in_reqs.get(name), bmc_reqs.get(name), redfish)
        entry = _entry(name, ib, oob, mandatory)
        bad = entry["verdict"] == "FAIL" or (entry["verdict"] == "UNKNOWN" and fail_on_unknown)
        if bad and entry["mandatory"]:
            failed.append(name)
        warnings += _entry_warnings(name, entry, ib, oob, bad)
        requirements[name] = entry
    if redfish and redfish.get("bmc_status") not in (None, "ok"):
        warnings.append("BMC check: {}".format(redfish["bmc_status"]))
    bmc = None
    if redfish:
        bmc = {"status": redfish.get("bmc_status"), "system": redfish.get("system"),
               "staged": redfish.get("staged") or {}}
    return {
        "verdict": "FAIL" if failed else "PASS",
        "mode": "+".join(m for m, r in (("in_band", inband), ("redfish", redfish)) if r) or "none",
        "mandatory": list(mandatory),
        "failed_mandatory": failed,
        "requirements": requirements,
        "reboot_pending": bool(reboot_pending or in_reqs.get("iommu", {}).get("details", {}).get("reboot_pending")),
        "bmc": bmc,
        "host": (inband or {}).get("host"),
        "warnings": warnings,
    }


def bios_check_failure_text(report):
    """One readable block per failed mandatory requirement for the gate's message."""
    lines = []
    for name in report["failed_mandatory"]:
        req = report["requirements"][name]
        lines.append("{}: {} ({}, cause {})".format(req["label"], req["verdict"], req["source"], req["cause"]))
        lines += [f"  evidence: {e}" for e in req["evidence"][:6]]
        lines.append("  remediation: {}".format(req["remediation"]))
    return "\n".join(lines)
