"""Pinned host<->device copy bandwidth of one GPU, measured at steady state.

Why it is measured this way (docs/gpu-smoke.md, "False fails"; bench/gpu_smoke_false_fails.py):
  - the PCIe link sits at a low speed while idle and the first copies after idle read far below the
    next ones, so copies run until two windows in a row agree before any window counts;
  - the sizes are the independent tool's (1 GiB copies, 0.2 s windows, median of five), so the two
    measure the same thing;
  - on a host of several sockets a pinned buffer on the far socket's memory crosses the socket link,
    which slows host-to-device reads; the buffer is allocated from a thread on the GPU's own CPUs, so
    that the kernel places its pages on the GPU's node (first touch)."""

from __future__ import annotations

import contextlib
import os
import statistics
import time

from autoglm_smoke.checks import _round
from autoglm_smoke.cuda_work import events_seconds, host_buffers

COPY_BYTES = 1 << 30
WINDOW_S = 0.2
WINDOWS = 5
SETTLE_WINDOW_S = 0.1
SETTLE_TOLERANCE = 0.03
SETTLE_MAX_S = 3.0


def local_cpus(pci_bus_id, sysfs="/sys/bus/pci/devices"):
    """The CPUs the kernel lists as local to the GPU (NVML's bus id 00000000:18:00.0 is sysfs's
    0000:18:00.0), or None where sysfs does not say (no NUMA, a container without /sys)."""
    if not pci_bus_id:
        return None
    bdf = pci_bus_id.lower()[-12:]
    try:
        with open(os.path.join(sysfs, bdf, "local_cpulist")) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    cpus = set()
    for part in filter(None, text.split(",")):
        lo, _dash, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus or None


@contextlib.contextmanager
def on_cpus(cpus):
    """Run the block on `cpus` (this thread only), where this process may use them; yields the CPUs
    actually used, or None when the affinity was left as it was."""
    before = os.sched_getaffinity(0)
    usable = (cpus or set()) & before
    if not usable or usable == before:
        yield None
        return
    os.sched_setaffinity(0, usable)
    try:
        yield sorted(usable)
    finally:
        os.sched_setaffinity(0, before)


def window_rate(torch, stream, fn, nbytes, calls):
    """Bytes per second of `calls` back-to-back copies, timed with CUDA events on the copy's stream."""
    return nbytes * calls / max(events_seconds(torch, stream, fn, calls), 1e-9)


def settle(torch, stream, fn, nbytes):
    """Copies in short windows until two in a row agree within SETTLE_TOLERANCE, at most
    SETTLE_MAX_S: (seconds spent, whether it settled, the last rate)."""
    t0 = time.perf_counter()
    fn()
    stream.synchronize()
    calls = max(1, int(SETTLE_WINDOW_S / max(time.perf_counter() - t0, 1e-6)))
    last = None
    while True:
        rate = window_rate(torch, stream, fn, nbytes, calls)
        if last is not None and abs(rate / last - 1) <= SETTLE_TOLERANCE:
            return time.perf_counter() - t0, True, rate
        if time.perf_counter() - t0 >= SETTLE_MAX_S:
            return time.perf_counter() - t0, False, rate
        last = rate


def steady_rate_gbs(torch, dev, fn, nbytes):
    """GB/s of fn (one copy of nbytes) on dev at steady state: settle, then the median of WINDOWS
    windows of about WINDOW_S. Returns (median, detail for the JSON)."""
    with torch.cuda.device(dev):
        stream = torch.cuda.current_stream(dev)
        warm_s, settled, rate = settle(torch, stream, fn, nbytes)
        calls = max(1, int(WINDOW_S * rate / nbytes))
        rates = [window_rate(torch, stream, fn, nbytes, calls) / 1e9 for _window in range(WINDOWS)]
    detail = {"windows_gbs": [_round(r) for r in rates], "warmup_s": _round(warm_s), "settled": settled}
    return statistics.median(rates), detail


def pcie_bandwidth_gbs(torch, dev, pci_bus_id=None, nbytes=COPY_BYTES):
    """Pinned host<->device copy bandwidth in each direction, this GPU alone, with the host buffer
    on the GPU's NUMA node where the host has several: {"h2d_gbs", "d2h_gbs", "detail"}."""
    with on_cpus(local_cpus(pci_bus_id)) as cpus:
        host, devbuf = host_buffers(torch, dev, nbytes)
        h2d, h2d_detail = steady_rate_gbs(torch, dev, lambda: devbuf.copy_(host, non_blocking=True), nbytes)
        d2h, d2h_detail = steady_rate_gbs(torch, dev, lambda: host.copy_(devbuf, non_blocking=True), nbytes)
    detail = {"copy_bytes": nbytes, "host_buffer_cpus": cpus, "h2d": h2d_detail, "d2h": d2h_detail}
    return {"h2d_gbs": h2d, "d2h_gbs": d2h, "detail": detail}
