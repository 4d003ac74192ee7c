"""A stand-in `pynvml` for bench/gpu_smoke_faults.py: the real NVML bindings, with the answers that
a faulty GPU would give substituted for the fault named in $AUTOGLM_FAULT. Faked because these
faults cannot be caused on a healthy lent GPU without changing its settings (which the machines and
customers forbid); everything else the smoke program asks goes to the real NVML.

    AUTOGLM_FAULT=ecc_volatile       1 volatile uncorrectable ECC error since the driver loaded
    AUTOGLM_FAULT=row_remap_pending  a row remap pending (needs a GPU reset)
    AUTOGLM_FAULT=row_remap_failure  row remapping failed (the GPU needs service)
    AUTOGLM_FAULT=hw_slowdown        HW slowdown clock-event reason active
    AUTOGLM_FAULT=thermal            HW thermal slowdown, temperature at the slowdown threshold
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec("pynvml", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _spec is not None:
    _real = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_real)
else:  # no nvidia-ml-py installed: the copy the smoke zipapp bundles
    _real = importlib.import_module("autoglm_smoke._bundled.pynvml")
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})

FAULT = os.environ.get("AUTOGLM_FAULT", "")
_HW_SLOWDOWN, _HW_THERMAL = 0x8, 0x40


def _clock_events(fn):
    bit = {"hw_slowdown": _HW_SLOWDOWN, "thermal": _HW_THERMAL}.get(FAULT, 0)
    return lambda handle: fn(handle) | bit


if FAULT == "ecc_volatile":

    def nvmlDeviceGetTotalEccErrors(handle, error_type, counter_type):  # noqa: N802 - NVML's name
        try:
            real = _real.nvmlDeviceGetTotalEccErrors(handle, error_type, counter_type)
        except _real.NVMLError:  # counters not exposed here (a VM may hide them): the fault alone
            real = 0
        if error_type == _real.NVML_MEMORY_ERROR_TYPE_UNCORRECTED:
            return real + 1
        return real

    def nvmlDeviceGetEccMode(handle):  # noqa: N802 - a card with ECC on, as every H100/H200 ships
        return (1, 1)
elif FAULT in ("row_remap_pending", "row_remap_failure"):

    def nvmlDeviceGetRemappedRows(handle):  # noqa: N802
        corr, unc, _pending, _failure = _real.nvmlDeviceGetRemappedRows(handle)
        if FAULT == "row_remap_pending":
            return corr, unc + 1, 1, 0
        return corr, unc + 1, 0, 1
elif FAULT in ("hw_slowdown", "thermal"):
    nvmlDeviceGetCurrentClocksEventReasons = _clock_events(_real.nvmlDeviceGetCurrentClocksEventReasons)  # noqa: N816
    nvmlDeviceGetCurrentClocksThrottleReasons = _clock_events(_real.nvmlDeviceGetCurrentClocksThrottleReasons)  # noqa: N816
    if FAULT == "thermal":

        def nvmlDeviceGetTemperature(handle, sensor):  # noqa: N802
            return _real.nvmlDeviceGetTemperatureThreshold(handle, _real.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
elif FAULT:
    raise ImportError(f"AUTOGLM_FAULT={FAULT!r} is not a fault this stand-in knows")
