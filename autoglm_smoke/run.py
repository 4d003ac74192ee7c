"""Orchestration. Work that uses only a GPU's own resources (load, correctness, matmul, memory
bandwidth, pattern test, burn) runs on all measured GPUs at once, one thread per GPU, in lockstep
steps (torch's TF32 switch is process-wide, so every GPU runs the same dtype step together).
Host-shared paths are measured per GPU alone and then all together."""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from autoglm_smoke import NCCL_SAFE_ENV, devices, interconnect
from autoglm_smoke.checks import (
    FAIL,
    INFO,
    PASS,
    SKIP,
    WARN,
    _round,
    check,
    evaluate_burn,
    evaluate_driver,
    evaluate_gpu_count,
    evaluate_gpu_health,
    hex_id,
)
from autoglm_smoke.collective import AllReduceSweep
from autoglm_smoke.cuda_work import (
    burn,
    device_memory_bandwidth_gbs,
    link_and_compute_load,
    matmul_correctness,
    matmul_tflops,
    memory_pattern_test,
    pcie_bandwidth_gbs,
)
from autoglm_smoke.figures import evaluate_allreduce, evaluate_figure, evaluate_p2p_access, evaluate_p2p_bandwidth
from autoglm_smoke.host import _text, parse_xids, read_kernel_log, read_kernel_module_version, scan_pci_gpus
from autoglm_smoke.nvml import LoadSampler, _nv, ecc_counts, load_nvml, nvml_gpu_facts, p2p_status
from autoglm_smoke.references import match_sku, physical_bound, sku_reference
from autoglm_smoke.report import finalize, new_report


def import_torch():
    os.environ.update(NCCL_SAFE_ENV)
    try:
        import torch  # noqa: PLC0415 - optional dependency

        return torch, None
    except Exception as exc:  # ImportError, or a broken install raising OSError
        return None, f"{type(exc).__name__}: {exc}"


def guarded(name, fn, *args):
    """Run one check; an exception becomes a failed check, not a crashed program."""
    try:
        return fn(*args)
    except Exception as exc:
        return check(name, FAIL, None, None, f"check raised {type(exc).__name__}: {str(exc)[:300]}")


def run_smoke(
    opts,
    nvml_loader=load_nvml,
    torch_loader=import_torch,
    sysfs_root="/sys",
    proc_version="/proc/driver/nvidia/version",
    kernel_log_reader=read_kernel_log,
):
    """Run every check for opts.level and return the report dict (verdict included)."""
    t_start = time.perf_counter()
    report = new_report(opts)
    pci_gpus = scan_pci_gpus(sysfs_root)
    module_version = read_kernel_module_version(proc_version)
    nvml, nvml_source = nvml_loader()
    report["environment"]["nvml_bindings"] = nvml_source
    report["environment"]["pci_gpus"] = pci_gpus
    nvml_error = None if nvml is not None else nvml_source
    if nvml is not None:
        try:
            nvml.nvmlInit()
        except Exception as exc:
            nvml_error = f"NVML init failed: {exc}"
    if nvml_error is None:
        count, err = _nv(nvml.nvmlDeviceGetCount)
        if not count:
            _nv(nvml.nvmlShutdown)
            return finish_no_gpu(
                report, opts, pci_gpus, module_version, "NVML device count failed: " + err if err else None, t_start
            )
    else:
        return finish_no_gpu(report, opts, pci_gpus, module_version, nvml_error, t_start)
    try:
        return run_with_nvml(report, opts, nvml, pci_gpus, module_version, torch_loader, kernel_log_reader, t_start)
    finally:
        _nv(nvml.nvmlShutdown)


def finish_no_gpu(report, opts, pci_gpus, module_version, nvml_error, t_start):
    """No usable NVIDIA GPU: say why (no GPU on the bus / no driver / no bindings / NVML error)."""
    report["gpu_present"] = False
    if pci_gpus:
        why = "{} NVIDIA GPU(s) on the PCI bus but the driver stack does not work: {}".format(
            len(pci_gpus), nvml_error or "NVML sees 0 GPUs"
        )
        if module_version is None:
            why += " (no nvidia kernel module loaded)"
    else:
        why = "no NVIDIA GPU/driver: no NVIDIA GPU on the PCI bus" + ("; " + nvml_error if nvml_error else "")
    if "mismatch" in (nvml_error or "").lower():
        why += ": reboot needed"
    report["environment"]["kernel_module_version"] = module_version
    required = opts.require_gpu
    report["host_checks"].append(
        check(
            "nvidia_gpu_present",
            FAIL if required else PASS,
            {"pci_gpus": len(pci_gpus or []), "nvml": nvml_error or "0 GPUs"},
            "at least one working NVIDIA GPU" if required else "none required",
            why,
        )
    )
    if opts.expected_gpus and required:
        report["host_checks"].append(evaluate_gpu_count(len(pci_gpus or []), 0, opts.expected_gpus))
    return finalize(report, t_start, why if required else "no NVIDIA GPU/driver; the inventory says none is needed")


def open_cuda(torch_loader):
    """(torch or None, error text or None)."""
    torch, error = torch_loader()
    if torch is None:
        return None, error
    try:
        if torch.cuda.is_available():
            return torch, None
        return None, f"torch {torch.__version__} cannot use CUDA (CPU-only build or driver too old)"
    except Exception as exc:
        return None, f"torch CUDA init failed: {exc}"


def new_gpu(facts, cuda_index, reason):
    sku = match_sku(facts.get("pci_device_id"), facts.get("name"))
    return {
        "index": facts["index"],
        "name": facts.get("name"),
        "uuid": facts.get("uuid"),
        "pci_bus_id": facts.get("pci_bus_id"),
        "pci_device_id": hex_id(facts.get("pci_device_id")),
        "sku": sku["sku"] if sku else None,
        "cuda_index": cuda_index,
        "measured": cuda_index is not None,
        "not_measured_reason": reason,
        "figures": {},
        "nvml": facts,
        "checks": [],
        "_sku": sku,
    }


def run_with_nvml(report, opts, nvml, pci_gpus, module_version, torch_loader, kernel_log_reader, t_start):
    report["gpu_present"] = True
    nvml_driver = _text(_nv(nvml.nvmlSystemGetDriverVersion)[0])
    report["environment"].update({"driver_nvml": nvml_driver, "kernel_module_version": module_version})
    report["host_checks"].append(evaluate_driver(nvml_driver, module_version))
    facts = [nvml_gpu_facts(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
    log_text, log_source = kernel_log_reader()
    xids = parse_xids(log_text) if log_text is not None else None

    tokens = devices.parse_selection(opts.gpus)
    unknown = devices.unknown_tokens(facts, tokens)
    if unknown:
        report["host_checks"].append(
            check(
                "gpu_selection",
                FAIL,
                opts.gpus,
                "NVML indices, UUIDs or PCI bus ids of this host's GPUs",
                f"--gpus names no GPU of this host: {unknown}",
            )
        )
    early = None
    selected = [f for f in facts if devices.selected(f, tokens)]
    if opts.level in ("standard", "burn") and len(selected) >= 2 and torch_loader is import_torch:
        # the NCCL workers load torch while this process does (5 s on the H200 host)
        early = AllReduceSweep(selected).start()
    try:
        torch, cuda_error, plan, cuda_summary = open_and_plan(report, facts, tokens, torch_loader)
    except BaseException:
        if early is not None:
            early.cancel()
        raise
    pci_count = None if pci_gpus is None else len(pci_gpus)
    report["host_checks"].append(evaluate_gpu_count(pci_count, len(facts), opts.expected_gpus, cuda_summary))
    report["host_checks"].append(torch_check(opts, torch, cuda_error))
    gpus = [new_gpu(f, *plan[f["index"]]) for f in facts]
    report["gpus"] = gpus
    measured = [g for g in gpus if g["measured"]]
    sweep = None
    try:
        sweep = sweep_for(opts, early, measured)
        early = None
        loads = measure_gpus(report, opts, nvml, torch, measured, sweep)
        for g in gpus:
            g["checks"] = evaluate_gpu_health(g["nvml"], opts, xids, log_source, loads.get(g["index"])) + g["checks"]
            if not g["measured"]:
                g["checks"].append(not_measured_check(opts, g, torch))
        if opts.level == "burn" and measured:
            run_burn_phase(report, opts, nvml, torch, measured)
        if len(measured) >= 2 and opts.level in ("standard", "burn"):
            run_multi_gpu(report, opts, nvml, torch, measured, sweep)
            sweep = None
    finally:
        for s in (early, sweep):
            if s is not None:
                s.cancel()
    for g in gpus:
        g.pop("_sku", None)
        g.pop("_dev", None)
    return finalize(report, t_start)


def open_and_plan(report, facts, tokens, torch_loader):
    """Load torch and say which CUDA device measures which GPU: (torch, error, plan, CUDA summary)."""
    t0 = time.perf_counter()
    torch, cuda_error = open_cuda(torch_loader)
    report["phases_s"]["torch_import"] = _round(time.perf_counter() - t0)
    if torch is None:
        return None, cuda_error, {f["index"]: (None, "not run: " + str(cuda_error)) for f in facts}, None
    report["environment"].update({"torch": torch.__version__, "torch_cuda": getattr(torch.version, "cuda", None)})
    plan, cuda_summary = devices.plan(facts, devices.cuda_devices(torch), tokens)
    return torch, None, plan, cuda_summary


def sweep_for(opts, early, measured):
    """The all-reduce sweep over the measured GPUs: the one started early when it names exactly
    them, else a new one (GPUs hidden from CUDA, no torch)."""
    wanted = [(g.get("uuid") or "-", g.get("pci_bus_id") or "-") for g in measured]
    if early is not None and early.gpus == wanted:
        return early
    if early is not None:
        early.cancel()
    if opts.level in ("standard", "burn") and len(measured) >= 2:
        return AllReduceSweep(measured).start()
    return None


def torch_check(opts, torch, cuda_error):
    if torch is not None:
        return check("torch_cuda", PASS, {"torch": torch.__version__, "cuda": torch.version.cuda}, "CUDA usable")
    return check(
        "torch_cuda",
        WARN if opts.allow_missing_torch else FAIL,
        None,
        "CUDA usable through torch",
        "not run: "
        + str(cuda_error)
        + (
            " (allowed by --allow-missing-torch)"
            if opts.allow_missing_torch
            else ": correctness and throughput checks cannot run"
        ),
    )


def not_measured_check(opts, gpu, torch):
    """A GPU no CUDA work ran on: hidden or unselected is reported; torch missing fails (or warns)."""
    if torch is not None:
        return check(
            "cuda_measurement", SKIP, None, "measured through CUDA", "not measured: " + gpu["not_measured_reason"]
        )
    return check(
        "cuda_matmul_correctness",
        WARN if opts.allow_missing_torch else FAIL,
        None,
        "rel error < 1e-4 vs CPU",
        gpu["not_measured_reason"],
    )


class Lockstep:
    """One thread per GPU; step(fn) runs fn(gpu) on every GPU at once and waits for all."""

    def __init__(self, gpus):
        self.gpus = gpus
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(gpus)))

    def step(self, name, fn):
        futures = [(g, self.pool.submit(guarded, name, fn, g)) for g in self.gpus]
        return [(g, f.result()) for g, f in futures]

    def close(self):
        self.pool.shutdown(wait=True)


def add_checks(gpu, result):
    gpu["checks"].extend(result if isinstance(result, list) else [result])


def measure_gpus(report, opts, nvml, torch, measured, sweep=None):
    """The per-GPU CUDA work, all measured GPUs at once. Returns {nvml index: under-load samples}."""
    if not measured:
        return {}
    for g in measured:
        g["_dev"] = torch.device("cuda", g["cuda_index"])
    phases = report["phases_s"]
    steps = Lockstep(measured)
    loads = {}
    try:
        t0 = time.perf_counter()
        samplers = {g["index"]: LoadSampler(nvml, g["index"]) for g in measured}
        for s in samplers.values():
            s.start()
        if sweep is not None:
            sweep.init()  # the NCCL workers set up while nothing is timed (load, correctness)
        try:
            steps.step("load", lambda g: link_and_compute_load(torch, g["_dev"]))
        finally:
            loads = {k: s.stop() for k, s in samplers.items()}
        for g in measured:
            g["under_load"] = loads[g["index"]]
        allow_tf32 = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            for g, res in steps.step("cuda_matmul_correctness", lambda g: correctness_check(torch, g["_dev"])):
                add_checks(g, res)
            phases["load_and_correctness"] = _round(time.perf_counter() - t0)
            if sweep is not None:
                t0 = time.perf_counter()
                sweep.wait_ready()  # and are done with it before anything is timed
                phases["allreduce_setup_wait"] = _round(time.perf_counter() - t0)
            if opts.level in ("standard", "burn"):
                throughput_steps(report, opts, torch, steps, measured, sweep)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    finally:
        steps.close()
    return loads


def correctness_check(torch, dev):
    r = matmul_correctness(torch, dev)
    ok = r["finite"] and r["rel_error"] < 1e-4
    return check(
        "cuda_matmul_correctness",
        PASS if ok else FAIL,
        {"rel_error": float("{:.3g}".format(r["rel_error"])), "all_finite": r["finite"], "n": r["n"]},
        "rel error < 1e-4 vs float64 CPU reference, all finite",
    )


def matmul_dtypes(gpu):
    cc = gpu["nvml"].get("compute_capability") or [0, 0]
    return ["fp16"] + (["bf16", "tf32"] if cc[0] >= 8 else ["fp32"])


def throughput_steps(report, opts, torch, steps, measured, sweep=None):
    phases = report["phases_s"]
    t0 = time.perf_counter()
    for dt in ("fp16", "bf16", "tf32", "fp32"):
        key = f"matmul_{dt}_tflops"

        def measure(g, dt=dt, key=key):
            if dt not in matmul_dtypes(g):
                return []
            g["figures"][key] = matmul_tflops(torch, g["_dev"], dt)
            peak, floor = sku_reference(g["_sku"], "matmul", dt)
            return evaluate_figure(
                key,
                g["figures"][key],
                peak,
                floor,
                "TFLOP/s",
                "(8192^3 matmul, CUDA events)",
                bound=physical_bound(g["_sku"], "matmul", dt),
            )

        torch.backends.cuda.matmul.allow_tf32 = dt == "tf32"
        for g, res in steps.step(key, measure):
            add_checks(g, res)
    torch.backends.cuda.matmul.allow_tf32 = False
    phases["matmul"] = _round(time.perf_counter() - t0)

    def mem_bw(g):
        g["figures"]["memory_bw_gbs"] = device_memory_bandwidth_gbs(torch, g["_dev"])
        peak, floor = sku_reference(g["_sku"], "memory_bw")
        return evaluate_figure(
            "memory_bw_gbs",
            g["figures"]["memory_bw_gbs"],
            peak,
            floor,
            "GB/s",
            "(1 GiB D2D copy, read+write)",
            bound=physical_bound(g["_sku"], "memory_bw"),
        )

    def memtest(g):
        r = memory_pattern_test(
            torch, g["_dev"], opts.memtest_fraction, headroom_bytes=(4 << 30) if len(measured) > 1 else (1 << 30)
        )
        bad = sum(r["errors"].values())
        return check(
            "memory_pattern_test",
            FAIL if bad or r["tested_gib"] == 0 else PASS,
            r,
            f"0 mismatches over {opts.memtest_fraction:.0%} of VRAM",
            f"{bad} mismatching words" if bad else "",
        )

    for name, fn in (("memory_bw_gbs", mem_bw), ("memory_pattern_test", memtest)):
        t0 = time.perf_counter()
        for g, res in steps.step(name, fn):
            add_checks(g, res)
        phases[name] = _round(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for g in measured:  # a host-shared path: each GPU alone first
        add_checks(g, guarded("pcie_bandwidth", pcie_checks, torch, g))
    if len(measured) > 1:
        report["host_checks"].append(guarded("host_copy_aggregate", aggregate_check, torch, measured))
    phases["host_copies"] = _round(time.perf_counter() - t0)


def pcie_checks(torch, g):
    h2d, d2h = pcie_bandwidth_gbs(torch, g["_dev"])
    g["figures"]["h2d_gbs"], g["figures"]["d2h_gbs"] = h2d, d2h
    link_peak, link = interconnect.pcie_link_peak(g["nvml"])
    peak, floor = sku_reference(g["_sku"], "pcie", link_peak)
    note = "(256 MiB pinned copies, this GPU alone; peak from link Gen{} x{})".format(*link)
    bound = physical_bound(None, "pcie", link_peak)
    return [
        evaluate_figure("h2d_gbs", h2d, peak, floor, "GB/s", note, bound=bound, bound_why="PCIe link peak"),
        evaluate_figure("d2h_gbs", d2h, peak, floor, "GB/s", note, bound=bound, bound_why="PCIe link peak"),
    ]


def aggregate_check(torch, measured):
    agg = interconnect.host_copy_aggregate(torch, [g["_dev"] for g in measured])
    peaks = [interconnect.pcie_link_peak(g["nvml"])[0] for g in measured]
    total_peak = None if None in peaks else sum(peaks)
    alone = {d: sum(g["figures"].get(d + "_gbs", 0.0) for g in measured) for d in ("h2d", "d2h")}
    measured_fig = {k: _round(v) for k, v in agg.items()}
    measured_fig.update({d + "_sum_of_alone_gbs": _round(v) for d, v in alone.items()})
    if total_peak is not None:
        bound = physical_bound(None, "pcie", total_peak)
        for k, v in agg.items():
            if v > bound:
                return check(
                    "host_copy_aggregate",
                    FAIL,
                    measured_fig,
                    {"max": bound, "unit": "GB/s"},
                    f"measurement error: {k} {_round(v)} exceeds the GPUs' summed link peak {bound}",
                )
    share = ", ".join(
        "{} {:.0%} of the sum of each GPU alone".format(d, agg[d + "_gbs"] / alone[d])
        for d in ("h2d", "d2h")
        if alone[d]
    )
    return check(
        "host_copy_aggregate",
        INFO,
        measured_fig,
        None,
        "every GPU copying to/from the host at once: " + share + " (below 100 % the host's root ports or "
        "memory are shared)",
    )


def run_burn_phase(report, opts, nvml, torch, measured):
    t0 = time.perf_counter()
    samplers, ecc_before = {}, {}
    for g in measured:
        ecc_before[g["index"]] = ecc_counts(nvml, nvml.nvmlDeviceGetHandleByIndex(g["index"]))
        samplers[g["index"]] = LoadSampler(nvml, g["index"], 0.5)
        samplers[g["index"]].start()
    dtype = {g["index"]: "bf16" if (g["nvml"].get("compute_capability") or [0])[0] >= 8 else "fp16" for g in measured}
    try:
        series = burn(torch, [(g["index"], g["_dev"], dtype[g["index"]]) for g in measured], opts.burn_minutes)
    except Exception as exc:
        report["host_checks"].append(
            check("burn", FAIL, None, None, f"burn raised {type(exc).__name__}: {str(exc)[:300]}")
        )
        return
    finally:
        loads = {k: s.stop() for k, s in samplers.items()}
    for g in measured:
        idx, load, s = g["index"], loads[g["index"]], series.get(g["index"], [])
        limit = min(opts.max_temperature_c, g["nvml"].get("temperature_slowdown_c") or opts.max_temperature_c)
        ecc_after = ecc_counts(nvml, nvml.nvmlDeviceGetHandleByIndex(idx))
        g["checks"].extend(
            evaluate_burn(
                s,
                opts.burn_tolerance,
                ecc_before[idx],
                ecc_after,
                load["clock_events"],
                load["temperature_c_max"],
                limit,
            )
        )
        g["burn"] = {
            "dtype": dtype[idx],
            "minutes": opts.burn_minutes,
            "tflops_series": [_round(v, 1) for v in s],
            "samples": load,
        }
        if s:
            g["figures"][f"burn_{dtype[idx]}_tflops_median"] = statistics.median(s)
    report["phases_s"]["burn"] = _round(time.perf_counter() - t0)


def run_multi_gpu(report, opts, nvml, torch, measured, sweep):
    t0 = time.perf_counter()
    labels = ["gpu{}".format(g["index"]) for g in measured]
    kinds, links, peaks = interconnect.topology([g["nvml"] for g in measured])
    handles = [nvml.nvmlDeviceGetHandleByIndex(g["index"]) for g in measured]
    n = len(measured)
    nvml_status = [[None if i == j else p2p_status(nvml, handles[i], handles[j]) for j in range(n)] for i in range(n)]
    cuda_idx = [g["cuda_index"] for g in measured]
    multi = {
        "gpus": [g["index"] for g in measured],
        "labels": labels,
        "link_kind": kinds,
        "nvlink_links": links,
        "link_peak_gbs": peaks,
        "p2p_nvml_status": nvml_status,
    }
    report["multi_gpu"] = multi
    try:
        access = interconnect.cuda_peer_access(torch, cuda_idx)
        multi["p2p_cuda_access"] = access
        report["host_checks"].append(evaluate_p2p_access(access, nvml_status, opts.require_p2p, labels))
    except Exception as exc:
        report["host_checks"].append(check("p2p_access", FAIL, None, None, f"CUDA peer query raised {exc}"[:300]))
    try:
        one, both = interconnect.peer_bandwidth(torch, cuda_idx)
        multi["p2p_oneway_gbs"] = [[_round(v) for v in row] for row in one]
        multi["p2p_bidirectional_gbs"] = [[_round(v) for v in row] for row in both]
        report["host_checks"].append(evaluate_p2p_bandwidth("p2p_bandwidth_oneway", one, peaks, kinds, labels))
        report["host_checks"].append(
            evaluate_p2p_bandwidth("p2p_bandwidth_bidirectional", both, peaks, kinds, labels, 2)
        )
    except Exception as exc:
        report["host_checks"].append(
            check("p2p_bandwidth", FAIL, None, None, f"peer copies raised {type(exc).__name__}: {str(exc)[:300]}")
        )
    report["phases_s"]["p2p"] = _round(time.perf_counter() - t0)
    t0 = time.perf_counter()
    torch.cuda.empty_cache()
    result = sweep.collect()
    multi["allreduce"] = result
    pair_kinds = [kinds[i][j] for i in range(n) for j in range(n) if i != j]
    kind = "nvlink" if all(k == "nvlink" for k in pair_kinds) else "pcie"
    pair_peaks = [peaks[i][j] for i in range(n) for j in range(n) if i != j]
    link_peak = None if None in pair_peaks else min(pair_peaks)
    report["host_checks"].append(evaluate_allreduce(result, kind, link_peak))
    report["phases_s"]["allreduce"] = _round(time.perf_counter() - t0)
