"""Orchestration. Work that uses only a GPU's own resources (load, correctness, matmul, memory
bandwidth, pattern test, burn) runs on all measured GPUs at once, one thread per GPU, in lockstep
steps (torch's TF32 switch is process-wide, so every GPU runs the same dtype step together).
Host-shared paths are measured per GPU alone and then all together. The measurements themselves
are in measure.py; this module finds the GPUs, opens them and decides what is measured."""

from __future__ import annotations

import os
import time

from autoglm_smoke import NCCL_SAFE_ENV, contention, devices
from autoglm_smoke.bar1 import evaluate_bar1
from autoglm_smoke.checks import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    _round,
    check,
    evaluate_driver,
    evaluate_gpu_count,
    evaluate_gpu_health,
    hex_id,
)
from autoglm_smoke.collective import AllReduceSweep
from autoglm_smoke.host import _text, parse_xids, read_kernel_log, read_kernel_module_version, scan_pci_gpus
from autoglm_smoke.measure import measure_gpus, run_burn_phase, run_multi_gpu
from autoglm_smoke.nvml import _nv, load_nvml, nvml_gpu_facts
from autoglm_smoke.references import match_sku
from autoglm_smoke.smoke_json import finalize, new_smoke_json


def import_torch():
    os.environ.update(NCCL_SAFE_ENV)
    try:
        import torch  # noqa: PLC0415 - optional dependency

        return torch, None
    except Exception as exc:  # ImportError, or a broken install raising OSError
        return None, f"{type(exc).__name__}: {exc}"


def run_smoke(
    opts,
    nvml_loader=load_nvml,
    torch_loader=import_torch,
    sysfs_root="/sys",
    proc_version="/proc/driver/nvidia/version",
    kernel_log_reader=read_kernel_log,
):
    """Run every check for opts.level and return the smoke JSON dict (verdict included)."""
    t_start = time.perf_counter()
    smoke_json = new_smoke_json(opts)
    pci_gpus = scan_pci_gpus(sysfs_root)
    module_version = read_kernel_module_version(proc_version)
    nvml, nvml_source = nvml_loader()
    smoke_json["environment"]["nvml_bindings"] = nvml_source
    smoke_json["environment"]["pci_gpus"] = pci_gpus
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
                smoke_json, opts, pci_gpus, module_version, "NVML device count failed: " + err if err else None, t_start
            )
    else:
        return finish_no_gpu(smoke_json, opts, pci_gpus, module_version, nvml_error, t_start)
    try:
        return run_with_nvml(smoke_json, opts, nvml, pci_gpus, module_version, torch_loader, kernel_log_reader, t_start)
    finally:
        _nv(nvml.nvmlShutdown)


def finish_no_gpu(smoke_json, opts, pci_gpus, module_version, nvml_error, t_start):
    """No usable NVIDIA GPU: say why (no GPU on the bus / no driver / no bindings / NVML error)."""
    smoke_json["gpu_present"] = False
    if pci_gpus:
        why = "{} NVIDIA GPU(s) on the PCI bus but the driver stack does not work: {}".format(
            len(pci_gpus), nvml_error or "NVML sees 0 GPUs"
        )
        if module_version is None:
            why += " (no nvidia kernel module loaded)"
    else:
        why = "no NVIDIA GPU/driver: no NVIDIA GPU on the PCI bus" + ("; " + nvml_error if nvml_error else "")
    code = "GPU_DRIVER_NOT_WORKING" if pci_gpus else "GPU_NOT_FOUND"
    if "mismatch" in (nvml_error or "").lower():
        why += ": reboot needed"
        code = "GPU_DRIVER_MISMATCH"
    smoke_json["environment"]["kernel_module_version"] = module_version
    required = opts.require_gpu
    smoke_json["host_checks"].append(
        check(
            "nvidia_gpu_present",
            FAIL if required else PASS,
            {"pci_gpus": len(pci_gpus or []), "nvml": nvml_error or "0 GPUs"},
            "at least one working NVIDIA GPU" if required else "none required",
            why,
            code=code,
        )
    )
    if opts.expected_gpus and required:
        smoke_json["host_checks"].append(evaluate_gpu_count(len(pci_gpus or []), 0, opts.expected_gpus))
    return finalize(smoke_json, t_start, why if required else "no NVIDIA GPU/driver; the inventory says none is needed")


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


def run_with_nvml(smoke_json, opts, nvml, pci_gpus, module_version, torch_loader, kernel_log_reader, t_start):
    smoke_json["gpu_present"] = True
    nvml_driver = _text(_nv(nvml.nvmlSystemGetDriverVersion)[0])
    smoke_json["environment"].update({"driver_nvml": nvml_driver, "kernel_module_version": module_version})
    smoke_json["host_checks"].append(evaluate_driver(nvml_driver, module_version))
    facts = [nvml_gpu_facts(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
    foreign_at_start = {f["index"]: contention.foreign_processes(nvml, f["index"]) for f in facts}
    log_text, log_source = kernel_log_reader()
    xids = parse_xids(log_text) if log_text is not None else None

    tokens = devices.parse_selection(opts.gpus)
    smoke_json["host_checks"].extend(selection_checks(opts, facts, tokens))
    early = None
    selected = [f for f in facts if devices.selected(f, tokens)]
    if opts.level in ("standard", "burn") and len(selected) >= 2 and torch_loader is import_torch:
        # the NCCL workers load torch while this process does (torch's import is one of the
        # longest phases: docs/gpu-smoke.md, the H200 proof's phases)
        early = AllReduceSweep(selected).start()
    try:
        torch, cuda_error, plan, cuda_summary = open_and_plan(smoke_json, facts, tokens, torch_loader)
    except BaseException:
        if early is not None:
            early.cancel()
        raise
    pci_count = None if pci_gpus is None else len(pci_gpus)
    smoke_json["host_checks"].append(evaluate_gpu_count(pci_count, len(facts), opts.expected_gpus, cuda_summary))
    smoke_json["host_checks"].append(torch_check(opts, torch, cuda_error))
    gpus = [new_gpu(f, *plan[f["index"]]) for f in facts]
    for g in gpus:
        g["_foreign"] = foreign_at_start[g["index"]][0]
    smoke_json["gpus"] = gpus
    measured = [g for g in gpus if g["measured"]]
    sweep = None
    try:
        sweep = sweep_for(opts, early, measured)
        early = None
        loads = measure_gpus(smoke_json, opts, nvml, torch, measured, sweep)
        for g in gpus:
            health = evaluate_gpu_health(g["nvml"], opts, xids, log_source, loads.get(g["index"]))
            g["checks"] = health + [evaluate_bar1(g["nvml"].get("bar1"))] + g["checks"]
            if not g["measured"]:
                g["checks"].append(not_measured_check(opts, g, torch))
        if opts.level == "burn" and measured:
            run_burn_phase(smoke_json, opts, nvml, torch, measured)
        if len(measured) >= 2 and opts.level in ("standard", "burn"):
            run_multi_gpu(smoke_json, opts, nvml, torch, measured, sweep)
            sweep = None
    finally:
        for s in (early, sweep):
            if s is not None:
                s.cancel()
    for g in gpus:
        judge_foreign(nvml, g, foreign_at_start[g["index"]][1])
        g.pop("_sku", None)
        g.pop("_dev", None)
        g.pop("_foreign", None)
    return finalize(smoke_json, t_start)


def selection_checks(opts, facts, tokens):
    """A failed check when --gpus names no GPU of this host; none otherwise."""
    unknown = devices.unknown_tokens(facts, tokens)
    if not unknown:
        return []
    return [
        check(
            "gpu_selection",
            FAIL,
            opts.gpus,
            "NVML indices, UUIDs or PCI bus ids of this host's GPUs",
            f"--gpus names no GPU of this host: {unknown}",
        )
    ]


def judge_foreign(nvml, gpu, start_error):
    """Other processes seen on the GPU before or after the measurements: named in a check of their
    own, and named as the likely cause in every figure of this GPU that failed."""
    now, error = contention.foreign_processes(nvml, gpu["index"])
    procs = contention.merge(gpu["_foreign"], now)
    gpu["foreign_processes"] = procs
    gpu["checks"].append(contention.evaluate_foreign(procs, error or start_error))
    contention.attribute_contention(gpu["checks"], procs)


def open_and_plan(smoke_json, facts, tokens, torch_loader):
    """Load torch and say which CUDA device measures which GPU: (torch, error, plan, CUDA summary)."""
    t0 = time.perf_counter()
    torch, cuda_error = open_cuda(torch_loader)
    smoke_json["phases_s"]["torch_import"] = _round(time.perf_counter() - t0)
    if torch is None:
        return None, cuda_error, {f["index"]: (None, "not run: " + str(cuda_error)) for f in facts}, None
    smoke_json["environment"].update({"torch": torch.__version__, "torch_cuda": getattr(torch.version, "cuda", None)})
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
        code="GPU_TORCH_CUDA_UNUSABLE",
    )
