"""Between GPUs and to the host: which link joins each pair (from NVML), whether CUDA grants
peer access, peer-copy bandwidth one way and both ways, and the host's aggregate copy rate with
every GPU copying at once."""

from __future__ import annotations

import statistics
import threading
import time

from autoglm_smoke.cuda_work import host_buffers
from autoglm_smoke.host import pci_key
from autoglm_smoke.references import match_sku, nvlink_peak_gbs, pcie_peak_gbs


def pcie_link_peak(facts):
    """Per-direction peak of this GPU's PCIe link (NVML's maximum, else the SKU's)."""
    pcie = facts.get("pcie") or {}
    link = (pcie.get("max_gen"), pcie.get("max_width"))
    if None in link:
        sku = match_sku(facts.get("pci_device_id"), facts.get("name"))
        link = sku["pcie"] if sku else link
    return pcie_peak_gbs(*link), link


def pair_link(fa, fb):
    """(kind, links, per-direction peak GB/s) of the path from GPU a to GPU b: NVLink links
    straight to b, else through NVSwitches (the fewer of the two GPUs' switch links), else PCIe."""
    links_a = fa.get("nvlink") or []
    links_b = fb.get("nvlink") or []
    target = pci_key(fb["pci_bus_id"]) if fb.get("pci_bus_id") else None
    direct = [x for x in links_a if x["remote_type"] == "gpu" and target is not None and x["remote"] == target]
    switched_a = [x for x in links_a if x["remote_type"] == "switch"]
    switched_b = [x for x in links_b if x["remote_type"] == "switch"]
    chosen = direct if direct else (switched_a if switched_a and switched_b else [])
    count = len(direct) if direct else min(len(switched_a), len(switched_b))
    if chosen and count:
        return "nvlink", count, nvlink_peak_gbs(chosen[0]["version"], count)
    peaks = [pcie_link_peak(f)[0] for f in (fa, fb)]
    return "pcie", 0, min(peaks) if None not in peaks else None


def topology(facts_list):
    """Matrices over the listed GPUs: kind ('nvlink'/'pcie'), link count and per-direction peak."""
    n = len(facts_list)
    kinds = [[None] * n for _ in range(n)]
    links = [[None] * n for _ in range(n)]
    peaks = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j:
                kinds[i][j], links[i][j], peaks[i][j] = pair_link(facts_list[i], facts_list[j])
    return kinds, links, peaks


def cuda_peer_access(torch, cuda_indices):
    n = len(cuda_indices)
    return [
        [
            None if i == j else bool(torch.cuda.can_device_access_peer(cuda_indices[i], cuda_indices[j]))
            for j in range(n)
        ]
        for i in range(n)
    ]


def peer_copy_gbs(torch, src, dst, both_ways=False, nbytes=256 << 20, window_s=0.04, repeats=3):
    """GB/s copied from GPU src to GPU dst (and dst to src at the same time when both_ways), each
    direction on streams of its own so that the two directions do not wait for each other."""
    jobs = [(src, dst)] + ([(dst, src)] if both_ways else [])
    prepared = []
    for a, b in jobs:
        with torch.cuda.device(a):
            buf_a = torch.empty(nbytes, dtype=torch.uint8, device=a)
            stream_a = torch.cuda.Stream(a)
        with torch.cuda.device(b):
            buf_b = torch.empty(nbytes, dtype=torch.uint8, device=b)
            stream_b = torch.cuda.Stream(b)
        prepared.append((buf_a, buf_b, stream_a, stream_b))

    def issue():
        for buf_a, buf_b, stream_a, stream_b in prepared:
            with torch.cuda.stream(stream_a), torch.cuda.stream(stream_b):
                buf_b.copy_(buf_a, non_blocking=True)

    def sync():
        for _, _, stream_a, stream_b in prepared:
            stream_a.synchronize()
            stream_b.synchronize()

    for _ in range(3):  # warm-up: peer mappings are made on first use
        issue()
    sync()
    t0 = time.perf_counter()
    issue()
    sync()
    batch = max(2, int(window_s / max(time.perf_counter() - t0, 1e-6)))
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(batch):
            issue()
        sync()
        times.append((time.perf_counter() - t0) / batch)
    return nbytes * len(jobs) / statistics.median(times) / 1e9


def peer_bandwidth(torch, cuda_indices):
    """(one_way, both_ways) GB/s matrices; both_ways[i][j] counts both directions together."""
    n = len(cuda_indices)
    devs = [torch.device("cuda", c) for c in cuda_indices]
    one = [[None] * n for _ in range(n)]
    both = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j:
                one[i][j] = peer_copy_gbs(torch, devs[i], devs[j])
                if i < j:
                    both[i][j] = both[j][i] = peer_copy_gbs(torch, devs[i], devs[j], both_ways=True)
    torch.cuda.empty_cache()
    return one, both


def host_copy_aggregate(torch, devs, nbytes=256 << 20, window_s=0.1):
    """Host<->device GB/s with every GPU copying at once (a host-shared path: root ports, CPU
    memory). Returns {"h2d_gbs", "d2h_gbs"} summed over the GPUs."""
    buffers = [host_buffers(torch, d, nbytes) for d in devs]
    out = {}
    for direction in ("h2d", "d2h"):
        barrier = threading.Barrier(len(devs))
        spans = [None] * len(devs)
        counts = [0] * len(devs)

        def work(k, direction=direction, barrier=barrier, spans=spans, counts=counts):
            dev = devs[k]
            host, devbuf = buffers[k]
            with torch.cuda.device(dev):
                stream = torch.cuda.current_stream(dev)

                def one():
                    (
                        devbuf.copy_(host, non_blocking=True)
                        if direction == "h2d"
                        else host.copy_(devbuf, non_blocking=True)
                    )

                one()
                stream.synchronize()
                barrier.wait()
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < window_s:
                    for _ in range(4):
                        one()
                    stream.synchronize()
                    counts[k] += 4
                spans[k] = (t0, time.perf_counter())

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(devs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        span = max(s[1] for s in spans) - min(s[0] for s in spans)
        out[direction + "_gbs"] = sum(counts) * nbytes / span / 1e9
    return out
