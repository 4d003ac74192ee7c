"""The check record and the pure verdict functions for health facts (NVML, kernel log, loads).
Facts in, checks out: no I/O here, so every rule is unit-tested with plain values."""

from __future__ import annotations

from autoglm_smoke.host import HARDWARE_XIDS, norm_bus_id
from autoglm_smoke.references import match_sku
from autoglm_smoke.verdicts import clock_event_code

PASS, WARN, FAIL, SKIP, INFO = "pass", "warn", "fail", "skip", "info"

# Clock-event ("throttle") reason bits from nvml.h; the ones that mean the card is being slowed
# by a fault or by cooling/power delivery fail the check. SW power cap under full load is normal.
CLOCK_EVENT_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
BAD_CLOCK_EVENT_MASK = 0x8 | 0x20 | 0x40 | 0x80


def check(name, verdict, measured=None, expected=None, detail="", code=None):
    """One check result: what was measured, what was expected, and the verdict. ``code`` names the
    verdict code (autoglm_smoke.verdicts) where the check's name and verdict alone do not say it;
    smoke_json.finalize gives every failed or warned check its code, severity and remediation."""
    out = {"name": name, "verdict": verdict, "measured": measured, "expected": expected, "detail": detail}
    if code:
        out["code"] = code
    return out


def _round(value, digits=2):
    return None if value is None else round(float(value), digits)


def hex_id(device_id):
    return None if not device_id else f"0x{device_id:04x}"


def decode_clock_events(mask):
    return [name for bit, name in sorted(CLOCK_EVENT_BITS.items()) if mask & bit]


def worst_verdict(verdicts):
    verdicts = list(verdicts)
    for v in (FAIL, WARN):
        if v in verdicts:
            return v
    return PASS


def evaluate_driver(nvml_version, module_version):
    if module_version is None:  # NVML works, so a module is loaded; this sandbox hides /proc/driver
        return check(
            "driver_version",
            WARN,
            {"nvml": nvml_version, "kernel_module": None},
            "equal",
            "/proc/driver/nvidia/version not readable: user-space/kernel agreement not verified",
        )
    if nvml_version is None:
        return check(
            "driver_version",
            FAIL,
            None,
            module_version,
            "NVML could not report the driver version",
            code="GPU_DRIVER_NOT_WORKING",
        )
    if nvml_version != module_version:
        return check(
            "driver_version",
            FAIL,
            {"nvml": nvml_version, "kernel_module": module_version},
            "equal",
            f"user-space driver {nvml_version} differs from loaded kernel module {module_version}: reboot needed",
        )
    return check("driver_version", PASS, {"nvml": nvml_version, "kernel_module": module_version}, "equal")


def evaluate_gpu_count(pci_count, nvml_count, expected, cuda=None):
    """GPUs on the PCI bus, in NVML, in CUDA and in the inventory agree. ``cuda`` is
    {"count", "unmatched", "hidden", "visible_devices"}: CUDA devices may be fewer than NVML's
    when CUDA_VISIBLE_DEVICES hides some (shared hosts, Slurm, device plugins): that is reported,
    not failed, unless the inventory gives an expected count (it expects that many GPUs usable, and
    a hidden one got no CUDA check); a CUDA device that matches no NVML GPU, or fewer CUDA devices
    with nothing hiding them, fails."""
    measured = {"pci": pci_count, "nvml": nvml_count}
    problems, notes = [], []
    if pci_count is not None and pci_count != nvml_count:
        problems.append(f"{pci_count} GPU(s) on the PCI bus but NVML sees {nvml_count} (a GPU failed to initialise)")
    if expected is not None and nvml_count != expected:
        problems.append(f"inventory expects {expected} GPU(s), NVML sees {nvml_count}")
    if cuda is not None:
        measured["cuda"] = cuda["count"]
        if cuda["unmatched"]:
            problems.append("CUDA device(s) {} match no NVML GPU by UUID or PCI bus id".format(cuda["unmatched"]))
        if cuda["hidden"]:
            if cuda["visible_devices"] is None:
                problems.append(
                    f"CUDA sees {cuda['count']} GPU(s), NVML {nvml_count}, and CUDA_VISIBLE_DEVICES is unset"
                )
            else:
                hides = "CUDA_VISIBLE_DEVICES={!r} hides GPU(s) {} from CUDA".format(
                    cuda["visible_devices"], cuda["hidden"]
                )
                if expected is not None:
                    problems.append(f"{hides}, and the inventory expects {expected} GPU(s) usable through CUDA")
                else:
                    notes.append(hides + ": they get NVML checks only")
    if not problems and expected is None:
        notes.append("inventory gives no expected count: only PCI/NVML/CUDA agreement judged")
    return check(
        "gpu_count",
        FAIL if problems else PASS,
        measured,
        expected if expected is not None else "pci == nvml",
        "; ".join(problems + notes),
    )


def evaluate_gpu_health(facts, opts, xids=None, xid_source=None, load=None):
    """Per-GPU quick-level checks from NVML facts, kernel-log XIDs and under-load samples."""
    checks = []
    sku = match_sku(facts.get("pci_device_id"), facts.get("name"))
    checks.append(
        check(
            "identity",
            PASS if facts.get("uuid") else FAIL,
            {
                "name": facts.get("name"),
                "uuid": facts.get("uuid"),
                "pci_bus_id": facts.get("pci_bus_id"),
                "pci_device_id": hex_id(facts.get("pci_device_id")),
                "sku": sku["sku"] if sku else None,
            },
            "name and UUID readable",
            "" if sku else "SKU not in the reference table: throughput figures are reported, not judged",
        )
    )
    cc = facts.get("compute_capability")
    min_cc = opts.min_compute_capability
    if cc is None:
        checks.append(
            check("compute_capability", FAIL, None, f">= {min_cc}", facts["errors"].get("compute_capability", ""))
        )
    else:
        ok = tuple(cc) >= tuple(int(x) for x in str(min_cc).split("."))
        checks.append(check("compute_capability", PASS if ok else FAIL, "{}.{}".format(*cc), f">= {min_cc}"))
    total = facts.get("memory_total_bytes")
    gib = None if total is None else total / 2.0**30
    checks.append(
        check(
            "memory_total_gib",
            FAIL if gib is None or gib < opts.min_memory_gib else PASS,
            _round(gib),
            f">= {opts.min_memory_gib}",
        )
    )
    checks.append(evaluate_pcie(facts["pcie"], load))
    checks.append(evaluate_persistence(facts, opts))
    checks.extend(evaluate_ecc(facts, opts))
    checks.append(evaluate_memory_retirement(facts))
    checks.append(evaluate_xids(facts.get("pci_bus_id"), xids, xid_source))
    checks.append(evaluate_clock_events(facts.get("clock_events_idle"), load))
    checks.append(evaluate_temperature(facts, opts, load))
    return checks


def evaluate_persistence(facts, opts):
    pm = facts.get("persistence_mode")
    if pm is None:
        return check(
            "persistence_mode", SKIP, None, "enabled", "not readable: " + facts["errors"].get("persistence_mode", "")
        )
    return check(
        "persistence_mode",
        PASS if pm else (FAIL if opts.require_persistence_mode else WARN),
        "enabled" if pm else "disabled",
        "enabled",
        "" if pm else "persistence mode off: driver state is torn down between jobs (nvidia-persistenced should run)",
    )


def evaluate_pcie(pcie, load):
    max_gen, max_width = pcie.get("max_gen"), pcie.get("max_width")
    if max_gen is None or max_width is None:
        return check("pcie_link", SKIP, None, None, "NVML does not report this GPU's PCIe link maximum")
    expected = f"Gen{max_gen} x{max_width}"
    slot_note = ""
    if pcie.get("gpu_max_gen") and pcie["gpu_max_gen"] > max_gen:
        slot_note = " (GPU supports Gen{}; the slot/system limits it to Gen{})".format(pcie["gpu_max_gen"], max_gen)
    if load and load.get("pcie_gen") is not None:
        gen, width = load["pcie_gen"], load["pcie_width"]
        measured = f"Gen{gen} x{width} under load"
        if gen < max_gen or (width or 0) < max_width:
            return check(
                "pcie_link", FAIL, measured, expected, "degraded link: trained below the maximum under load" + slot_note
            )
        return check("pcie_link", WARN if slot_note else PASS, measured, expected, slot_note.strip())
    gen, width = pcie.get("current_gen"), pcie.get("current_width")
    measured = f"Gen{gen} x{width} at idle"
    if gen is not None and width is not None and (gen < max_gen or width < max_width):
        return check(
            "pcie_link",
            WARN,
            measured,
            expected,
            "read at idle only (no CUDA load possible); idle GPUs lower the link, so not judged" + slot_note,
            code="GPU_PCIE_LINK_UNVERIFIED",
        )
    return check("pcie_link", WARN if slot_note else PASS, measured, expected, slot_note.strip())


def evaluate_ecc(facts, opts):
    mode, counts = facts.get("ecc_mode"), facts.get("ecc_counts") or {}
    if mode is None:
        return [
            check(
                "ecc_mode",
                SKIP,
                None,
                "enabled",
                "ECC not supported on this GPU (" + facts["errors"].get("ecc_mode", "") + ")",
            )
        ]
    out = []
    enabled = bool(mode["current"])
    pending_note = "" if mode["pending"] == mode["current"] else "; a change is pending until the next reboot"
    out.append(
        check(
            "ecc_mode",
            PASS if enabled else (FAIL if opts.require_ecc else WARN),
            "enabled" if enabled else "disabled",
            "enabled",
            pending_note.lstrip("; "),
        )
    )
    vol, agg = counts.get("uncorrected_volatile"), counts.get("uncorrected_aggregate")
    measured = {
        "uncorrected_volatile": vol,
        "uncorrected_aggregate": agg,
        "corrected_volatile": counts.get("corrected_volatile"),
    }
    if vol:
        out.append(
            check(
                "ecc_uncorrected",
                FAIL,
                measured,
                "0 since boot",
                f"{vol} uncorrectable ECC error(s) since the driver loaded",
            )
        )
    elif agg:
        out.append(
            check(
                "ecc_uncorrected", WARN, measured, "0 since boot", f"none since boot, but {agg} in the GPU's lifetime"
            )
        )
    elif vol is None and enabled:
        out.append(
            check(
                "ecc_uncorrected",
                WARN,
                measured,
                "0 since boot",
                "counters not readable",
                code="GPU_ECC_COUNTERS_UNREADABLE",
            )
        )
    else:
        out.append(check("ecc_uncorrected", PASS, measured, "0 since boot"))
    return out


def evaluate_memory_retirement(facts):
    """Row remapping (Ampere and later) or page retirement (earlier): pending or failed = fail."""
    rows = facts.get("remapped_rows")
    if rows is not None:
        if rows["failure"]:
            return check(
                "memory_remap",
                FAIL,
                rows,
                "no remap failure",
                "row remapping failed: the GPU needs service",
                code="GPU_ROW_REMAP_FAILED",
            )
        if rows["pending"]:
            return check("memory_remap", FAIL, rows, "no pending remap", "row remap pending: GPU reset/reboot needed")
        return check("memory_remap", PASS, rows, "no pending remap, no failure")
    pending = facts.get("retired_pages_pending")
    if pending is not None:
        return check(
            "memory_remap",
            FAIL if pending else PASS,
            {"retired_pages_pending": bool(pending)},
            "no pending page retirement",
            "page retirement pending: reboot needed" if pending else "",
            code="GPU_PAGE_RETIREMENT_PENDING",
        )
    return check("memory_remap", SKIP, None, None, "neither row remapping nor page retirement is reported")


def evaluate_xids(bus_id, xids, source):
    if xids is None:
        return check(
            "xid_events",
            WARN,
            None,
            "no hardware XIDs since boot",
            "kernel log not readable: " + str(source),
            code="GPU_XID_LOG_UNREADABLE",
        )
    mine = [e for e in xids if bus_id and e["bus"] == norm_bus_id(bus_id)]
    hardware = [e for e in mine if e["hardware"]]
    measured = {"count": len(mine), "xids": sorted({e["xid"] for e in mine})}
    if hardware:
        return check(
            "xid_events",
            FAIL,
            measured,
            "no hardware XIDs since boot",
            "; ".join(sorted({"Xid {} ({})".format(e["xid"], HARDWARE_XIDS[e["xid"]]) for e in hardware})),
        )
    if mine:
        return check(
            "xid_events",
            WARN,
            measured,
            "no hardware XIDs since boot",
            "application-class XIDs seen (usually a crashed job)",
        )
    return check("xid_events", PASS, measured, "no hardware XIDs since boot", "source: " + str(source))


def evaluate_clock_events(idle_mask, load):
    load_mask = load.get("clock_events") if load else None
    mask = (idle_mask or 0) | (load_mask or 0)
    if idle_mask is None and load_mask is None:
        return check("clock_event_reasons", SKIP, None, None, "NVML does not report clock-event reasons")
    names = decode_clock_events(mask)
    bad = decode_clock_events(mask & BAD_CLOCK_EVENT_MASK)
    where = "idle and under load" if load_mask is not None else "idle only"
    if bad:
        return check(
            "clock_event_reasons",
            FAIL,
            names,
            "no thermal/power-brake/hardware slowdown",
            "GPU slowed by " + ", ".join(bad) + " (" + where + ")",
            code=clock_event_code(mask),
        )
    return check("clock_event_reasons", PASS, names, "no thermal/power-brake/hardware slowdown", "read " + where)


def evaluate_temperature(facts, opts, load):
    temps = [t for t in (facts.get("temperature_c"), (load or {}).get("temperature_c_max")) if t is not None]
    if not temps:
        return check("temperature_c", SKIP, None, None, "temperature not readable")
    limit = opts.max_temperature_c
    slowdown = facts.get("temperature_slowdown_c")
    if slowdown:
        limit = min(limit, slowdown)
    hottest = max(temps)
    return check(
        "temperature_c",
        FAIL if hottest >= limit else PASS,
        hottest,
        f"< {limit}",
        f"max of idle and under-load readings; limit is min(configured, NVML slowdown threshold {slowdown})",
    )
