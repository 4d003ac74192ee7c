"""Compare preflight measurements with the requirement thresholds.

`preflight_assess(measured, thresholds, product_thresholds)` returns
{qualified, checks, failures, warnings, thresholds_lowered}. Each check names the measured
value and the threshold it was compared with, so a failure message says both.
"""

from __future__ import annotations

# Guide figures (docs: host-requirements.md): model-load storage classes and preprocessing.
STORAGE_CLASSES = [
    (2.1, "NVMe class (guide ~2.1 GB/s, 6.1 s load)"),
    (0.5, "SATA SSD class (guide ~0.5 GB/s, 12.4 s load)"),
    (0.1, "HDD class (guide ~0.1 GB/s, 28.7 s load)"),
]
PREPROCESS_POINTS = [(4, 12500.0), (8, 12500.0 * 1.9), (16, 12500.0 * 3.4)]
UNSUPPORTED_OS = "not supported: Ubuntu 22.04 is the target, Debian 12 supported"
GUIDE_CURVE = "4 cores 12,500/s, 8 -> 1.9x, 16 -> 3.4x"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(text).split(".")[:2])


def preprocess_items_per_s(cpus: int) -> float:
    """Guide's throughput curve, linear between its points, proportional below 4 cores."""
    if cpus <= PREPROCESS_POINTS[0][0]:
        return PREPROCESS_POINTS[0][1] * cpus / PREPROCESS_POINTS[0][0]
    for (c0, r0), (c1, r1) in zip(PREPROCESS_POINTS, PREPROCESS_POINTS[1:], strict=False):
        if cpus <= c1:
            return r0 + (r1 - r0) * (cpus - c0) / (c1 - c0)
    c_last, r_last = PREPROCESS_POINTS[-1]
    return r_last * cpus / c_last


def storage_class(gbps: float) -> str:
    for floor, label in STORAGE_CLASSES:
        if gbps >= floor:
            return label
    return "below the guide's HDD figure (0.1 GB/s)"


def _check(item, measured, minimum=None, recommended=None, unit="", note=""):
    status, msg = "ok", f"{item}: measured {measured}{unit}"
    if minimum is not None and measured < minimum:
        status = "fail"
    elif recommended is not None and measured < recommended:
        status = "warn"
    if minimum is not None:
        msg += f", minimum {minimum}{unit}"
    if recommended is not None:
        msg += f", recommended {recommended}{unit}"
    if note:
        msg += f" ({note})"
    return {
        "item": item,
        "status": status,
        "measured": measured,
        "minimum": minimum,
        "recommended": recommended,
        "message": msg,
    }


def preflight_assess(measured: dict, t: dict, product: dict) -> dict:
    checks = []
    os_id = f"{measured['os_distribution']} {measured['os_version']}"
    os_key = f"{measured['os_distribution']}-{measured['os_major']}"
    supported = {"Ubuntu-22": "the product's target", "Debian-12": "supported; the product's target is Ubuntu 22.04"}
    checks.append(
        {
            "item": "OS",
            "measured": os_id,
            "minimum": "Ubuntu 22.04 or Debian 12",
            "recommended": "Ubuntu 22.04",
            "status": "ok" if os_key in supported else "fail",
            "message": f"OS: {os_id} ({supported.get(os_key, UNSUPPORTED_OS)})",
        }
    )

    checks.append(
        _check("CPU cores (logical)", measured["cpu_logical"], t["cpu_cores_minimum"], t["cpu_cores_recommended"])
    )
    checks.append(_check("RAM", measured["ram_gb"], t["ram_gb_minimum"], t["ram_gb_recommended"], " GB"))

    storage = measured["storage"]
    free_gb = round(storage["free_bytes"] / 1e9, 1)
    checks.append(
        _check(
            f"free disk on {storage['path']}",
            free_gb,
            t["disk_free_gb_minimum"],
            t["disk_free_gb_recommended"],
            " GB",
            note="" if storage["path_exists"] else f"path does not exist yet; measured on {storage['probed_dir']}",
        )
    )
    rot = storage["rotational"]
    checks.append(
        {
            "item": "disk type",
            "measured": {True: "rotational", False: "non-rotational", None: "unknown"}[rot],
            "minimum": None,
            "recommended": "SSD (non-rotational)",
            "status": "warn" if rot else "ok",
            "message": "disk type: "
            + (
                f"rotational ({storage['block_device']}: sysfs queue/rotational=1; virtual disks may report 1"
                " regardless): an HDD loads models at ~0.1 GB/s per the guide; SSD recommended"
                if rot
                else f"non-rotational ({storage['block_device']})"
                if rot is False
                else f"unknown: {storage['fs_type']} on {storage['source']} has no block device in sysfs"
            ),
        }
    )
    if storage.get("read_gbps") is not None:
        gbps = storage["read_gbps"]
        c = _check(
            "sequential read of the model path",
            gbps,
            t["storage_read_gbps_minimum"] or None,
            t["storage_read_gbps_recommended"],
            " GB/s",
            note=f"{storage_class(gbps)}; {storage['read_method']}, {storage['read_bytes'] // (1024 * 1024)} MiB",
        )
        checks.append(c)
    else:
        checks.append(
            {
                "item": "sequential read of the model path",
                "measured": None,
                "minimum": None,
                "recommended": None,
                "status": "ok",
                "message": f"sequential read: not measured: {storage['read_skipped_reason']}",
            }
        )

    cpus = measured["cpu_available"]
    checks.append(
        _check(
            "CPUs available for preprocessing",
            cpus,
            None,
            t["preprocess_cpus_recommended"],
            note=f"guide curve: ~{round(preprocess_items_per_s(cpus)):,} items/s; {GUIDE_CURVE}",
        )
    )

    gpus = measured["gpus"]
    checks.append(
        _check(
            "NVIDIA GPUs on the PCI bus",
            len(gpus),
            t["gpu_count_minimum"],
            None,
            note=", ".join(f"{g['address']} 10de:{str(g['device_id'])[2:]}" for g in gpus)
            or "vendor 0x10de, display class",
        )
    )
    smi = measured.get("gpu_smi") or []
    for g in smi:
        checks.append(
            _check(
                f"GPU {g['index']} memory ({g['name']})",
                g["memory_gb"],
                t["gpu_memory_gb_minimum"],
                t["gpu_memory_gb_recommended"],
                " GB",
            )
        )
        cc_ok = _version_tuple(g["compute_capability"]) >= _version_tuple(t["gpu_compute_capability_minimum"])
        checks.append(
            {
                "item": f"GPU {g['index']} compute capability",
                "measured": g["compute_capability"],
                "minimum": t["gpu_compute_capability_minimum"],
                "recommended": None,
                "status": "ok" if cc_ok else "fail",
                "message": f"GPU {g['index']} compute capability: measured {g['compute_capability']},"
                f" minimum {t['gpu_compute_capability_minimum']}",
            }
        )
    if gpus and not smi:
        checks.append(
            {
                "item": "GPU memory and compute capability",
                "measured": None,
                "minimum": None,
                "recommended": None,
                "status": "ok",
                "message": "GPU memory and compute capability: not measured (no NVIDIA driver yet);"
                " the GPU smoke test checks them after the driver is installed",
            }
        )

    py = measured.get("python_version")
    lo, hi = t["python_version_minimum"], t["python_version_maximum"]
    if py is None:
        checks.append(
            {
                "item": "Python for the venv",
                "measured": None,
                "minimum": lo,
                "recommended": None,
                "status": "fail",
                "message": f"Python for the venv: {measured['python_interpreter']} not found (needs {lo} - {hi})",
            }
        )
    else:
        ok = _version_tuple(lo) <= _version_tuple(py) <= _version_tuple(hi)
        checks.append(
            {
                "item": "Python for the venv",
                "measured": py,
                "minimum": lo,
                "recommended": None,
                "status": "ok" if ok else "fail",
                "message": f"Python for the venv: measured {py} ({measured['python_interpreter']}),"
                f" supported {lo} - {hi}",
            }
        )

    lowered = []
    for key, reference in product.items():
        value = t.get(key)
        if value is None or value == reference:
            continue
        laxer = (
            (_version_tuple(value) > _version_tuple(reference))
            if key == "python_version_maximum"
            else (
                _version_tuple(value) < _version_tuple(reference)
                if key.startswith("python_version") or key.startswith("gpu_compute")
                else float(value) < float(reference)
            )
        )
        if laxer:
            lowered.append(f"{key}: {reference} -> {value}")
    failures = [c["message"] for c in checks if c["status"] == "fail"]
    warnings = [c["message"] for c in checks if c["status"] == "warn"]
    if lowered:
        warnings.append("thresholds lowered below the product's requirements (lab settings): " + "; ".join(lowered))
    return {
        "qualified": not failures,
        "checks": checks,
        "failures": failures,
        "warnings": warnings,
        "thresholds_lowered": lowered,
    }


# Threshold pairs: a host below the minimum fails, below the recommendation warns.
THRESHOLD_PAIRS = ("cpu_cores", "ram_gb", "disk_free_gb", "storage_read_gbps", "gpu_memory_gb")
THRESHOLD_NAMES = tuple(
    f"preflight_{base}_{kind}" for base in THRESHOLD_PAIRS for kind in ("minimum", "recommended")
) + (
    "preflight_preprocess_cpus_recommended",
    "preflight_gpu_count_minimum",
    "preflight_storage_read_test_mb",
    "preflight_python_version_minimum",
    "preflight_python_version_maximum",
)


def _number(value):
    if isinstance(value, bool):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def preflight_threshold_problems(values: dict) -> list:
    """What is wrong with the thresholds themselves (``values``: variable name -> value): a negative or
    non-numeric figure, a minimum above its recommendation, a Python range that is empty. The role
    fails on these before measuring; ``autoglm-provision validate`` reports them through this function."""
    problems = []
    for name in THRESHOLD_NAMES:
        value = values.get(name)
        if value is None or name.startswith("preflight_python_version"):
            continue
        number = _number(value)
        if number is None or number < 0:
            problems.append(f"{name}={value!r}: allowed a number >= 0")
    for base in THRESHOLD_PAIRS:
        low = _number(values.get(f"preflight_{base}_minimum"))
        high = _number(values.get(f"preflight_{base}_recommended"))
        if low is not None and high is not None and low > high:
            problems.append(
                f"preflight_{base}_minimum={values[f'preflight_{base}_minimum']!r} is above "
                f"preflight_{base}_recommended={values[f'preflight_{base}_recommended']!r}: allowed a minimum at "
                "or below the recommended value"
            )
    py_min, py_max = values.get("preflight_python_version_minimum"), values.get("preflight_python_version_maximum")
    if py_min is not None and py_max is not None:
        try:
            if _version_tuple(py_min) > _version_tuple(py_max):
                problems.append(
                    f"preflight_python_version_minimum={py_min!r} is above preflight_python_version_maximum="
                    f"{py_max!r}: allowed a minimum at or below the maximum"
                )
        except ValueError:
            problems.append(
                f"preflight_python_version_minimum/maximum {py_min!r}/{py_max!r}: allowed versions like '3.11'"
            )
    return problems
