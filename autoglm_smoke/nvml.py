"""NVML facts (the ``nvml`` argument is the pynvml module, or a fake of it in tests): identity,
health counters, NVLink links, P2P status, and samplers that read the GPU under load."""

from __future__ import annotations

import threading

from autoglm_smoke.bar1 import bar1_facts
from autoglm_smoke.host import _text, pci_key

# nvmlGpuP2PCapsIndex_t from nvml.h. Written out because nvidia-ml-py defines
# NVML_P2P_CAPS_INDEX_READ as the tuple (0,) (a stray comma), which NVML rejects: reading it made
# every pair look like "no peer access".
P2P_CAPS_READ, P2P_CAPS_WRITE, P2P_CAPS_NVLINK = 0, 1, 2
P2P_STATUS = {
    0: "ok",
    1: "chipset_not_supported",
    2: "gpu_not_supported",
    3: "ioh_topology_not_supported",
    4: "disabled_by_regkey",
    5: "not_supported",
    6: "unknown",
}
NVLINK_DEVICE_TYPE_SWITCH = 2
MAX_NVLINKS = 18


def load_nvml():
    """(module, source): an installed pynvml wins; else the copy bundled into the zipapp."""
    try:
        import pynvml  # noqa: PLC0415 - optional dependency

        return pynvml, "installed pynvml " + str(getattr(pynvml, "__file__", ""))
    except ImportError:
        pass
    try:
        from autoglm_smoke._bundled import pynvml  # noqa: PLC0415

        return pynvml, "bundled pynvml " + str(getattr(pynvml, "__version__", "")).strip()
    except ImportError:
        return None, "no NVML Python bindings (nvidia-ml-py) installed or bundled"


def _nv(fn, *args):
    """Call an NVML function: (value, None) or (None, 'not supported' / error text)."""
    try:
        return fn(*args), None
    except Exception as exc:  # NVMLError subclasses; their str() names the NVML error
        return None, str(exc) or type(exc).__name__


def nvml_gpu_facts(nvml, index):
    """Everything NVML says about GPU `index` that the checks use, as plain values."""
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    facts = {"index": index, "errors": {}}

    def get(key, fn, *args):
        value, err = _nv(fn, handle, *args)
        if err is not None:
            facts["errors"][key] = err
        return value

    facts["name"] = _text(get("name", nvml.nvmlDeviceGetName))
    facts["uuid"] = _text(get("uuid", nvml.nvmlDeviceGetUUID))
    pci = get("pci", nvml.nvmlDeviceGetPciInfo)
    facts["pci_bus_id"] = _text(pci.busId) if pci is not None else None
    facts["pci_device_id"] = (pci.pciDeviceId >> 16) if pci is not None else None
    cc = get("compute_capability", nvml.nvmlDeviceGetCudaComputeCapability)
    facts["compute_capability"] = list(cc) if cc is not None else None
    mem = get("memory", nvml.nvmlDeviceGetMemoryInfo)
    facts["memory_total_bytes"] = mem.total if mem is not None else None
    facts["pcie"] = {
        "current_gen": get("pcie_current_gen", nvml.nvmlDeviceGetCurrPcieLinkGeneration),
        "current_width": get("pcie_current_width", nvml.nvmlDeviceGetCurrPcieLinkWidth),
        "max_gen": get("pcie_max_gen", nvml.nvmlDeviceGetMaxPcieLinkGeneration),
        "max_width": get("pcie_max_width", nvml.nvmlDeviceGetMaxPcieLinkWidth),
        "gpu_max_gen": get("pcie_gpu_max_gen", nvml.nvmlDeviceGetGpuMaxPcieLinkGeneration),
    }
    facts["persistence_mode"] = get("persistence_mode", nvml.nvmlDeviceGetPersistenceMode)
    ecc_mode = get("ecc_mode", nvml.nvmlDeviceGetEccMode)
    facts["ecc_mode"] = {"current": ecc_mode[0], "pending": ecc_mode[1]} if ecc_mode is not None else None
    facts["ecc_counts"] = ecc_counts(nvml, handle) if ecc_mode is not None else None
    facts["retired_pages_pending"] = get("retired_pages_pending", nvml.nvmlDeviceGetRetiredPagesPendingStatus)
    rows = get("remapped_rows", nvml.nvmlDeviceGetRemappedRows)
    facts["remapped_rows"] = (
        {"correctable": rows[0], "uncorrectable": rows[1], "pending": bool(rows[2]), "failure": bool(rows[3])}
        if rows is not None
        else None
    )
    facts["clock_events_idle"] = clock_event_mask(nvml, handle)
    facts["temperature_c"] = get("temperature", nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU)
    facts["temperature_slowdown_c"] = get(
        "temperature_slowdown", nvml.nvmlDeviceGetTemperatureThreshold, nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
    )
    power = get("power_limit", nvml.nvmlDeviceGetEnforcedPowerLimit)
    facts["power_limit_w"] = power / 1000.0 if power is not None else None
    facts["nvlink"] = nvlink_links(nvml, handle)
    facts["bar1"] = bar1_facts(nvml, handle, facts["pci_bus_id"])
    return facts


def ecc_counts(nvml, handle):
    """Corrected/uncorrected ECC counts, volatile (since driver load) and aggregate (lifetime)."""
    out = {}
    for etype, ename in (
        (nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, "corrected"),
        (nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, "uncorrected"),
    ):
        for ctype, cname in ((nvml.NVML_VOLATILE_ECC, "volatile"), (nvml.NVML_AGGREGATE_ECC, "aggregate")):
            value, _ = _nv(nvml.nvmlDeviceGetTotalEccErrors, handle, etype, ctype)
            out[f"{ename}_{cname}"] = value
    return out


def clock_event_mask(nvml, handle):
    fn = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    value, _ = _nv(fn, handle)
    return value


def nvlink_links(nvml, handle):
    """This GPU's active NVLink links: [{"link", "version", "remote": (domain, bus, device) or None,
    "remote_type": "gpu"|"switch"|...}]; [] when NVML reports none (PCIe-only GPU)."""
    links = []
    if not hasattr(nvml, "nvmlDeviceGetNvLinkState"):
        return links
    for link in range(MAX_NVLINKS):
        state, err = _nv(nvml.nvmlDeviceGetNvLinkState, handle, link)
        if err is not None:
            break  # past the GPU's last link, or no NVLink at all
        if not state:
            continue
        version, _ = _nv(nvml.nvmlDeviceGetNvLinkVersion, handle, link)
        remote, _ = _nv(nvml.nvmlDeviceGetNvLinkRemotePciInfo, handle, link)
        rtype, _ = _nv(nvml.nvmlDeviceGetNvLinkRemoteDeviceType, handle, link)
        links.append(
            {
                "link": link,
                "version": version,
                "remote": pci_key(remote.busId) if remote is not None else None,
                "remote_type": "switch" if rtype == NVLINK_DEVICE_TYPE_SWITCH else ("gpu" if rtype == 0 else rtype),
            }
        )
    return links


def p2p_status(nvml, handle_a, handle_b):
    """NVML's P2P read status between two GPUs as a word ('ok', 'not_supported', ...)."""
    status, err = _nv(nvml.nvmlDeviceGetP2PStatus, handle_a, handle_b, P2P_CAPS_READ)
    if err is not None:
        return "error: " + err
    return P2P_STATUS.get(status, str(status))


class LoadSampler(threading.Thread):
    """Samples NVML while the GPU is loaded: PCIe links drop to Gen1 at idle, so the link (and
    the clock-event reasons, clocks, temperature and power) must be read under load."""

    def __init__(self, nvml, index, period_s=0.02):
        threading.Thread.__init__(self, daemon=True)
        self.nvml, self.handle, self.period_s = nvml, nvml.nvmlDeviceGetHandleByIndex(index), period_s
        self.stop_event = threading.Event()
        self.samples = {
            "pcie_gen": [],
            "pcie_width": [],
            "clock_events": 0,
            "sm_clock_mhz": [],
            "temperature_c": [],
            "power_w": [],
        }

    def run(self):
        n, h, s = self.nvml, self.handle, self.samples
        while not self.stop_event.is_set():
            for key, fn, args in (
                ("pcie_gen", n.nvmlDeviceGetCurrPcieLinkGeneration, ()),
                ("pcie_width", n.nvmlDeviceGetCurrPcieLinkWidth, ()),
                ("sm_clock_mhz", n.nvmlDeviceGetClockInfo, (n.NVML_CLOCK_SM,)),
                ("temperature_c", n.nvmlDeviceGetTemperature, (n.NVML_TEMPERATURE_GPU,)),
                ("power_w", n.nvmlDeviceGetPowerUsage, ()),
            ):
                value, _ = _nv(fn, h, *args)
                if value is not None:
                    s[key].append(value / 1000.0 if key == "power_w" else value)
            mask = clock_event_mask(n, h)
            if mask is not None:
                s["clock_events"] |= mask
            self.stop_event.wait(self.period_s)

    def stop(self):
        self.stop_event.set()
        self.join(5)
        s = self.samples

        def peak(key):
            return max(s[key]) if s[key] else None

        return {
            "pcie_gen": peak("pcie_gen"),
            "pcie_width": peak("pcie_width"),
            "clock_events": s["clock_events"],
            "sm_clock_mhz_max": peak("sm_clock_mhz"),
            "temperature_c_max": peak("temperature_c"),
            "power_w_max": None if not s["power_w"] else round(max(s["power_w"]), 1),
            "samples": len(s["pcie_gen"]),
        }
