"""Compare preflight measurements with the requirement thresholds.

`preflight_assess(measured, thresholds, product_thresholds)` returns
{qualified, checks, failures, warnings, thresholds_lowered}. Each check names the measured
value and the threshold it was compared with, so a failure message says both.
"""

from __future__ import annotations

import functools
from pathlib import Path

# Guide figures (docs: host-requirements.md): model-load storage classes and preprocessing.
STORAGE_CLASSES = [
    (2.1, "NVMe class (guide ~2.1 GB/s, 6.1 s load)"),
    (0.5, "SATA SSD class (guide ~0.5 GB/s, 12.4 s load)"),
    (0.1, "HDD class (guide ~0.1 GB/s, 28.7 s load)"),
]
PREPROCESS_POINTS = [(4, 12500.0), (8, 12500.0 * 1.9), (16, 12500.0 * 3.4)]
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


def _os_name(key: str) -> str:
    """``Ubuntu-22`` -> ``Ubuntu 22.04`` (Ubuntu's supported releases are its LTS ones, YY.04), ``Debian-12``
    -> ``Debian 12``."""
    distribution, major = key.split("-", 1)
    return f"{distribution} {major}.04" if distribution == "Ubuntu" else f"{distribution} {major}"


@functools.lru_cache(maxsize=1)
def supported_os() -> tuple:
    """The supported distributions, ``<distribution>-<major>``, the product's target first: the common
    role's one list (roles/common/vars/main.yml, common__supported_os), read from this collection."""
    import yaml  # noqa: PLC0415 - a controller-side plugin: PyYAML comes with ansible-core

    common_vars = Path(__file__).resolve().parents[2] / "roles" / "common" / "vars" / "main.yml"
    return tuple(yaml.safe_load(common_vars.read_text(encoding="utf-8"))["common__supported_os"])


def _os_check(measured: dict) -> dict:
    os_id = f"{measured['os_distribution']} {measured['os_version']}"
    os_key = f"{measured['os_distribution']}-{measured['os_major']}"
    target, *others = supported_os()
    supported = {target: "the product's target"}
    supported.update({key: f"supported; the product's target is {_os_name(target)}" for key in others})
    unsupported = f"not supported: {_os_name(target)} is the target, {', '.join(map(_os_name, others))} supported"
    return {
        "item": "OS",
        "measured": os_id,
        "minimum": " or ".join(_os_name(key) for key in (target, *others)),
        "recommended": _os_name(target),
        "status": "ok" if os_key in supported else "fail",
        "message": f"OS: {os_id} ({supported.get(os_key, unsupported)})",
    }


def _disk_type_check(storage: dict) -> dict:
    rot = storage["rotational"]
    if rot:
        described = (f"rotational ({storage['block_device']}: sysfs queue/rotational=1; virtual disks may report 1"
                     " regardless): an HDD loads models at ~0.1 GB/s per the guide; SSD recommended")
    elif rot is False:
        described = f"non-rotational ({storage['block_device']})"
    else:
        described = f"unknown: {storage['fs_type']} on {storage['source']} has no block device in sysfs"
    return {
        "item": "disk type",
        "measured": {True: "rotational", False: "non-rotational", None: "unknown"}[rot],
        "minimum": None,
        "recommended": "SSD (non-rotational)",
        "status": "warn" if rot else "ok",
        "message": "disk type: " + described,
    }


def _storage_checks(storage: dict, t: dict) -> list:
    """Free space, disk type and sequential read of the model path."""
    free_gb = round(storage["free_bytes"] / 1e9, 1)
    checks = [
        _check(f"free disk on {storage['path']}", free_gb, t["disk_free_gb_minimum"], t["disk_free_gb_recommended"],
               " GB",
               note="" if storage["path_exists"] else f"path does not exist yet; measured on {storage['probed_dir']}"),
        _disk_type_check(storage),
    ]
    gbps = storage.get("read_gbps")
    if gbps is not None:
        checks.append(_check(
            "sequential read of the model path", gbps, t["storage_read_gbps_minimum"] or None,
            t["storage_read_gbps_recommended"], " GB/s",
            note=f"{storage_class(gbps)}; {storage['read_method']}, {storage['read_bytes'] // (1024 * 1024)} MiB"))
    else:
        checks.append(_not_measured("sequential read of the model path",
                                    f"sequential read: not measured: {storage['read_skipped_reason']}"))
    return checks


def _not_measured(item: str, message: str, minimum=None, status: str = "ok") -> dict:
    return {"item": item, "measured": None, "minimum": minimum, "recommended": None, "status": status,
            "message": message}


def _cpu_memory_checks(measured: dict, t: dict) -> list:
    return [
        _check("CPU cores (logical)", measured["cpu_logical"], t["cpu_cores_minimum"], t["cpu_cores_recommended"]),
        _check("RAM", measured["ram_gb"], t["ram_gb_minimum"], t["ram_gb_recommended"], " GB"),
    ]


def _preprocess_check(measured: dict, t: dict) -> dict:
    cpus = measured["cpu_available"]
    return _check("CPUs available for preprocessing", cpus, None, t["preprocess_cpus_recommended"],
                  note=f"guide curve: ~{round(preprocess_items_per_s(cpus)):,} items/s; {GUIDE_CURVE}")


def _gpu_checks(measured: dict, t: dict) -> list:
    """GPUs on the bus; per GPU, memory and compute capability where a driver answers."""
    gpus = measured["gpus"]
    checks = [_check("NVIDIA GPUs on the PCI bus", len(gpus), t["gpu_count_minimum"], None,
                     note=", ".join(f"{g['address']} 10de:{str(g['device_id'])[2:]}" for g in gpus)
                     or "vendor 0x10de, display class")]
    smi = measured.get("gpu_smi") or []
    minimum_cc = t["gpu_compute_capability_minimum"]
    for g in smi:
        checks.append(_check(f"GPU {g['index']} memory ({g['name']})", g["memory_gb"], t["gpu_memory_gb_minimum"],
                             t["gpu_memory_gb_recommended"], " GB"))
        cc_ok = _version_tuple(g["compute_capability"]) >= _version_tuple(minimum_cc)
        checks.append({
            "item": f"GPU {g['index']} compute capability",
            "measured": g["compute_capability"],
            "minimum": minimum_cc,
            "recommended": None,
            "status": "ok" if cc_ok else "fail",
            "message": f"GPU {g['index']} compute capability: measured {g['compute_capability']}, minimum {minimum_cc}",
        })
    if gpus and not smi:
        checks.append(_not_measured("GPU memory and compute capability",
                                    "GPU memory and compute capability: not measured (no NVIDIA driver yet);"
                                    " the GPU smoke test checks them after the driver is installed"))
    return checks


def _python_check(measured: dict, t: dict) -> dict:
    py = measured.get("python_version")
    lo, hi = t["python_version_minimum"], t["python_version_maximum"]
    if py is None:
        return _not_measured("Python for the venv",
                             f"Python for the venv: {measured['python_interpreter']} not found (needs {lo} - {hi})",
                             minimum=lo, status="fail")
    ok = _version_tuple(lo) <= _version_tuple(py) <= _version_tuple(hi)
    return {
        "item": "Python for the venv",
        "measured": py,
        "minimum": lo,
        "recommended": None,
        "status": "ok" if ok else "fail",
        "message": f"Python for the venv: measured {py} ({measured['python_interpreter']}), supported {lo} - {hi}",
    }


def _lowered_thresholds(t: dict, product: dict) -> list:
    """``key: product -> site`` for each threshold the site set laxer than the product's."""
    lowered = []
    for key, reference in product.items():
        value = t.get(key)
        if value is None or value == reference:
            continue
        if key == "python_version_maximum":
            laxer = _version_tuple(value) > _version_tuple(reference)
        elif key.startswith(("python_version", "gpu_compute")):
            laxer = _version_tuple(value) < _version_tuple(reference)
        else:
            laxer = float(value) < float(reference)
        if laxer:
            lowered.append(f"{key}: {reference} -> {value}")
    return lowered


def preflight_assess(measured: dict, t: dict, product: dict) -> dict:
    """The verdict: one check family after another (OS, CPU and memory, storage, GPUs, Python), in
    the order the report lists them, then the thresholds the site lowered."""
    checks = [_os_check(measured), *_cpu_memory_checks(measured, t), *_storage_checks(measured["storage"], t),
              _preprocess_check(measured, t), *_gpu_checks(measured, t), _python_check(measured, t)]
    lowered = _lowered_thresholds(t, product)
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

