"""Other processes on the GPU. A figure measured while another process computes on, copies to or
holds the memory of the same GPU says nothing about the hardware: the verdict must name that
process (pid, name, memory, from NVML's running processes) so that an operator stops it instead of
sending a healthy card back. Facts from NVML in, checks out; the attribution marks the failed
figures of a shared GPU as contended rather than slow."""

from __future__ import annotations

import os

from autoglm_smoke import verdicts
from autoglm_smoke.checks import FAIL, PASS, WARN, _round, check


def process_name(pid, proc_root="/proc"):
    """The command name of pid, or None where this PID namespace does not show it (NVML reports
    host PIDs to a container)."""
    try:
        with open(f"{proc_root}/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()[:64] or None
    except OSError:
        return None


def own_pids(proc_root="/proc"):
    """This process and its direct children (the NCCL workers of the all-reduce sweep)."""
    me = os.getpid()
    pids = {me}
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return pids
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc_root}/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            pids.add(int(entry))
    return pids


def gpu_processes(nvml, index):
    """([{pid, kind, used_gib}], error or None): every process NVML lists on GPU `index`."""
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    seen, errors = {}, []
    for kind, name in (
        ("compute", "nvmlDeviceGetComputeRunningProcesses"),
        ("graphics", "nvmlDeviceGetGraphicsRunningProcesses"),
    ):
        fn = getattr(nvml, name, None)
        if fn is None:
            continue
        try:
            procs = fn(handle) or []
        except Exception as exc:  # NVMLError: not supported on this GPU/driver
            errors.append(f"{name}: {exc}")
            continue
        for p in procs:
            used = getattr(p, "usedGpuMemory", None)
            # NVML_VALUE_NOT_AVAILABLE is 2^64-1 (None in newer bindings): the driver did not say
            used_gib = None if used is None or used >= (1 << 63) else _round(used / 2.0**30)
            seen.setdefault(int(p.pid), {"pid": int(p.pid), "kind": kind, "used_gib": used_gib})
    return list(seen.values()), ("; ".join(errors) if errors and not seen else None)


def foreign_processes(nvml, index, mine=None, proc_root="/proc"):
    """The processes on GPU `index` that are not this program's: [{pid, name, kind, used_gib}]."""
    mine = own_pids(proc_root) if mine is None else mine
    procs, error = gpu_processes(nvml, index)
    out = []
    for p in procs:
        if p["pid"] in mine:
            continue
        p["name"] = process_name(p["pid"], proc_root)
        out.append(p)
    return sorted(out, key=lambda p: p["pid"]), error


def merge(*lists):
    """Processes seen at any sample, once each (the later sample's memory wins)."""
    by_pid = {}
    for procs in lists:
        for p in procs or []:
            by_pid[p["pid"]] = p
    return [by_pid[k] for k in sorted(by_pid)]


def describe(procs):
    return ", ".join(
        "pid {} ({}{})".format(
            p["pid"],
            p.get("name") or "name not visible here",
            "" if p.get("used_gib") is None else ", {} GiB".format(p["used_gib"]),
        )
        for p in procs
    )


def evaluate_foreign(procs, error=None):
    """A warning that names every other process on the GPU; pass when there is none."""
    if error is not None and not procs:
        return check("foreign_processes", PASS, None, "no other process on this GPU", f"not readable: {error}")
    if not procs:
        return check("foreign_processes", PASS, [], "no other process on this GPU")
    return check(
        "foreign_processes",
        WARN,
        procs,
        "no other process on this GPU",
        "another process uses this GPU: " + describe(procs) + "; figures measured now are shared with it",
        code="GPU_FOREIGN_PROCESS",
    )


def attribute_contention(checks, procs):
    """Name the other processes in every failed figure of a GPU they use: the likely cause is that
    process, not the hardware (verdicts.annotate gives such a figure GPU_CONTENDED). The verdict
    stays a failure: the host is not ready."""
    if not procs:
        return checks
    who = describe(procs)
    for c in checks:
        # the figures verdicts.CONTENTION_SENSITIVE names, and the pattern test's coverage
        code = verdicts.code_for(c)
        if c["verdict"] == FAIL and code in verdicts.CONTENTION_SENSITIVE | {"GPU_MEMTEST_COVERAGE_LOW"}:
            if who not in (c.get("detail") or ""):  # the pattern test's coverage names them already
                c["detail"] = (c.get("detail") or "").rstrip() + f"; measured while {who} used this GPU"
            c["contended_by"] = [p["pid"] for p in procs]
    return checks


def memtest_coverage(tested_gib, total_gib, fraction, procs):
    """(verdict, detail) for the pattern test's coverage: far below the asked fraction means the
    test did not cover what it was asked to, usually because another process holds the memory."""
    if total_gib is None or tested_gib is None:
        return PASS, ""
    asked = fraction * total_gib
    if tested_gib >= 0.9 * asked:
        return PASS, ""
    why = f"covered {tested_gib} GiB of the {_round(asked)} GiB asked ({fraction:.0%} of {total_gib} GiB)"
    if procs:
        why += ": memory held by " + describe(procs)
    else:
        why += ": free memory was short"
    return FAIL, why
