"""The role-fact contract, read in this one place.

A role publishes what the run report shows for a host as ``autoglm_report_<role>`` (a flat-ish
dict of JSON values, ``set_fact`` in its tasks). The report collects them under
``hosts.<host>.facts.<role>``; everything that interprets them (host state, the console's
qualification lines, the HTML report) asks this module, so a key a role renames is renamed here
once. Verdicts come in one vocabulary, whatever word a role or the smoke program uses.
"""

from __future__ import annotations

PREFIX = "autoglm_report_"

PASS, WARN, FAIL, UNKNOWN, NOT_APPLICABLE, INFO, SKIP = (
    "PASS", "WARN", "FAIL", "UNKNOWN", "NOT_APPLICABLE", "INFO", "SKIP")
VERDICTS = (PASS, WARN, FAIL, UNKNOWN, NOT_APPLICABLE, INFO, SKIP)
_WORDS = {"pass": PASS, "passed": PASS, "ok": PASS, "qualified": PASS, "success": PASS, "successful": PASS,
          "true": PASS, "warn": WARN, "warning": WARN, "fail": FAIL, "failed": FAIL, "false": FAIL,
          "unknown": UNKNOWN, "not_applicable": NOT_APPLICABLE, "info": INFO, "skip": SKIP, "skipped": SKIP}

# What this module reads of each role's fact: the contract, checked against the roles' own
# report tasks by tests/unit/results/test_facts.py.
READS = {
    "host": ("os", "kernel"),
    "preflight": ("qualified", "failures", "thresholds_lowered", "checks"),
    "bios_check": ("verdict", "failed_mandatory", "requirements"),
    # version_loaded is the running kernel module (what the GPUs run), version_installed the userland.
    # kernel_module_type: open or proprietary; fabric: the NVLink fabric state ({verdict, gpus, failures});
    # gpudirect: the GPUDirect RDMA path ({path, reason, verdict, detail, ...}); gds: GPUDirect Storage's
    # nvidia-fs ({asked, package, loaded, signer, verdict, detail, ...}).
    "nvidia_driver": ("version_loaded", "version_installed", "branch", "kernel_module_type", "fabric", "gpudirect",
                      "gds"),
    "cuda": ("version", "package_version", "nvcc"),
    "python_venv": ("profile", "python_version", "packages"),
    "gpu_smoke": ("verdict", "level", "reason", "wall_time_s", "gpus"),
}
# Any role may say a reboot is pending, and any role may carry warnings for the operator.
COMMON = ("reboot_pending", "warnings")


def role_facts(ansible_facts: dict) -> dict[str, object]:
    """``{role: fact}`` of the ``autoglm_report_<role>`` facts among a task result's ansible_facts."""
    return {key[len(PREFIX):]: value for key, value in (ansible_facts or {}).items() if key.startswith(PREFIX)}


def verdict(value: object) -> str | None:
    """One vocabulary: PASS, WARN, FAIL, UNKNOWN, NOT_APPLICABLE, INFO, SKIP (None: no verdict)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return PASS if value else FAIL
    text = str(value).strip()
    return _WORDS.get(text.lower(), text.upper())


def is_pass(value: object) -> bool:
    return verdict(value) == PASS


def _role(facts: dict, role: str) -> dict:
    fact = facts.get(role)
    return fact if isinstance(fact, dict) else {}


def preflight_verdict(facts: dict) -> str | None:
    fact = _role(facts, "preflight")
    return verdict(fact["qualified"]) if isinstance(fact.get("qualified"), bool) else None


def bios_verdict(facts: dict) -> str | None:
    fact = _role(facts, "bios_check")
    if isinstance(fact.get("failed_mandatory"), list):
        return FAIL if fact["failed_mandatory"] else PASS
    return verdict(fact.get("verdict"))


def p2p_platform(facts: dict) -> dict | None:
    """What bios_check's ``p2p`` requirement (module pcie_p2p) saw on the GPU/NIC paths, for whoever
    explains a slow P2P or NCCL figure: verdict, cause, the bridges with ACS redirect on a P2P path
    and the translated IOMMU domain types. None where the requirement was not judged in-band."""
    req = (_role(facts, "bios_check").get("requirements") or {}).get("p2p")
    if not isinstance(req, dict) or req.get("source") != "in_band" or req.get("cause") == "in_band_only":
        return None
    view = req.get("in_band") if isinstance(req.get("in_band"), dict) else {}
    return {"verdict": verdict(req.get("verdict")), "cause": req.get("cause"),
            "redirect_bridges": list(view.get("redirect_bridges") or []),
            "translated_domains": list(view.get("translated_domains") or [])}


def smoke_verdict(facts: dict, smoke_result: dict | None = None) -> str | None:
    return verdict(_role(facts, "gpu_smoke").get("verdict") or (smoke_result or {}).get("verdict"))


def driver_version(facts: dict) -> str | None:
    driver = _role(facts, "nvidia_driver")
    return next((driver[k] for k in READS["nvidia_driver"][:2] if driver.get(k) not in (None, "")), None)


def fabric_verdict(facts: dict) -> str | None:
    """The NVLink fabric of an NVSwitch host: PASS (every GPU joined), FAIL, NOT_APPLICABLE (PCIe parts
    report 'Not Supported'); None where the driver role read no fabric state."""
    fabric = _role(facts, "nvidia_driver").get("fabric")
    value = fabric.get("verdict") if isinstance(fabric, dict) else None
    return None if value in (None, "unknown") else verdict(value)


def gpudirect(facts: dict) -> dict | None:
    """The GPUDirect RDMA path of the host: {path, verdict, reason, detail}; None where the driver role
    published none (an older collection, or the role did not run)."""
    value = _role(facts, "nvidia_driver").get("gpudirect")
    if not isinstance(value, dict):
        return None
    return {"path": value.get("path"), "verdict": verdict(value.get("verdict")), "reason": value.get("reason") or "",
            "detail": value.get("detail") or ""}


def gds(facts: dict) -> dict | None:
    """GPUDirect Storage's nvidia-fs where it was asked for: {verdict, version, signer, detail}; None where it was
    not (nvidia_driver_gds=false, an older collection, or the role did not run)."""
    value = _role(facts, "nvidia_driver").get("gds")
    if not isinstance(value, dict) or not value.get("asked"):
        return None
    return {"verdict": verdict(value.get("verdict")), "version": value.get("version") or "",
            "signer": value.get("signer") or "", "detail": value.get("detail") or ""}


def reboot_pending(facts: dict) -> bool:
    return any(isinstance(f, dict) and bool(f.get("reboot_pending")) for f in facts.values())


def host_summary(facts: dict, smoke_result: dict | None = None) -> dict:
    """What a host's facts say, by subject; None where no role said it. ``smoke_result`` is the
    smoke program's own report of the host (results.smoke), used where the fact is missing."""
    host, cuda, venv = _role(facts, "host"), _role(facts, "cuda"), _role(facts, "python_venv")
    preflight, bios, smoke = _role(facts, "preflight"), _role(facts, "bios_check"), _role(facts, "gpu_smoke")
    smoke_result = smoke_result or {}
    packages = venv.get("packages")
    gpus = smoke_result.get("gpus") or smoke.get("gpus") or []
    return {
        "os": host.get("os"),
        "kernel": host.get("kernel"),
        "driver": driver_version(facts),
        "driver_branch": _role(facts, "nvidia_driver").get("branch"),
        "driver_reboot_pending": bool(_role(facts, "nvidia_driver").get("reboot_pending")),
        "driver_module": _role(facts, "nvidia_driver").get("kernel_module_type"),
        "fabric": fabric_verdict(facts),
        "gpudirect": (gpudirect(facts) or {}).get("path"),
        "reboot_pending": reboot_pending(facts),
        "cuda": cuda.get("version"),
        "cuda_detail": cuda.get("package_version") or cuda.get("nvcc"),
        "venv_profile": venv.get("profile"),
        "venv_python": venv.get("python_version"),
        "venv_torch": packages.get("torch") if isinstance(packages, dict) else None,
        "preflight": preflight_verdict(facts),
        "preflight_failures": [str(f) for f in preflight.get("failures") or []],
        "preflight_lowered": list(preflight.get("thresholds_lowered") or []),
        "bios": bios_verdict(facts),
        "p2p_platform": p2p_platform(facts),
        "bios_requirements": [(name, verdict((req or {}).get("verdict")), bool((req or {}).get("mandatory")))
                              for name, req in (bios.get("requirements") or {}).items()],
        "smoke": smoke_verdict(facts, smoke_result),
        "smoke_level": smoke.get("level") or smoke_result.get("level"),
        "smoke_reason": smoke.get("reason") or smoke_result.get("verdict_reason"),
        "gpus": len(gpus),
        "skus": sorted({str(g.get("sku") or g.get("name") or "unknown") for g in gpus if isinstance(g, dict)}),
        "warnings": [f"{role}: {w}" for role, data in sorted(facts.items()) if isinstance(data, dict)
                     for w in (data.get("warnings") or []) if isinstance(w, str)],
    }


def qualification(facts: dict) -> list[tuple[str, str, list[str]]]:
    """The gates' lines for the operator: ``(verdict, text, detail lines)`` for each preflight
    check, BIOS requirement and the GPU smoke test; detail lines say why whatever did not pass."""
    preflight, bios, smoke = _role(facts, "preflight"), _role(facts, "bios_check"), facts.get("gpu_smoke")
    lines: list[tuple[str, str, list[str]]] = []
    for check in preflight.get("checks") or []:
        lines.append((verdict(check.get("status")) or "?", f"preflight  {check.get('message', check.get('item'))}", []))
    if preflight.get("thresholds_lowered"):
        lines.append((WARN, f"preflight  thresholds lowered (lab): {'; '.join(preflight['thresholds_lowered'])}", []))
    for name, req in (bios.get("requirements") or {}).items():
        mandatory = "mandatory" if req.get("mandatory") else "optional"
        req_verdict = verdict(req.get("verdict")) or "?"
        details = []
        if req_verdict not in (PASS, NOT_APPLICABLE):
            details = [f"evidence: {e}" for e in req.get("evidence") or []]
            details += [f"remediation: {req['remediation']}"] if req.get("remediation") else []
        lines.append((req_verdict, f"BIOS       {req.get('label', name)} ({mandatory}, via {req.get('source')})",
                      details))
    fabric = _role(facts, "nvidia_driver").get("fabric")
    if fabric_verdict(facts) in (PASS, FAIL):
        joined = sum(1 for gpu in fabric.get("gpus") or [] if isinstance(gpu, dict) and gpu.get("verdict") == "ok")
        lines.append((fabric_verdict(facts), f"NVLink     fabric: {joined} of {len(fabric.get('gpus') or [])} GPU(s) "
                      "joined", [str(f) for f in fabric.get("failures") or []]))
    rdma = gpudirect(facts)
    if rdma and rdma["verdict"] in (PASS, FAIL):
        lines.append((rdma["verdict"], f"GPUDirect  {rdma['path']}: {rdma['reason']}",
                      [rdma["detail"]] if rdma["verdict"] == FAIL and rdma["detail"] else []))
    storage = gds(facts)
    if storage and storage["verdict"] in (PASS, FAIL):
        lines.append((storage["verdict"], f"GDS        nvidia-fs {storage['version']}".rstrip(),
                      [storage["detail"]] if storage["detail"] else []))
    if isinstance(smoke, dict):
        lines.append((verdict(smoke.get("verdict")) or "?",
                      f"GPU smoke  {smoke.get('level')}: {smoke.get('reason') or ''} ({smoke.get('wall_time_s')} s)",
                      []))
    return lines


def has_gates(facts: dict) -> bool:
    return any(isinstance(facts.get(role), dict) for role in ("preflight", "bios_check", "gpu_smoke"))
