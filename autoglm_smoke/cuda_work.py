"""CUDA work on one device through torch. Everything is issued and timed on the stream of the
device that does the work (CUDA events recorded on that stream): an event recorded on another
device's stream times nothing, which is how a second GPU once reported an impossible throughput
(bench/README.md, gpu_smoke_vs_independent.py: "What this benchmark caught")."""

from __future__ import annotations

import statistics
import time

from autoglm_smoke.checks import _round

DTYPES = ("fp16", "bf16", "tf32", "fp32")


def timed(torch, dev, fn, target_s=0.15, repeats=5, warmup_s=0.2):
    """Median seconds per call of fn on dev, timed with CUDA events on dev's current stream over
    batches of calls. The warm-up is by time, not by count: a GPU boosts above its sustained clock
    for a moment and then settles at its power cap (seen on the H100: +5 % for fp16 matmul)."""
    with torch.cuda.device(dev):
        stream = torch.cuda.current_stream(dev)
        deadline = time.perf_counter() + warmup_s
        while True:
            t0 = time.perf_counter()
            fn()
            stream.synchronize()
            if time.perf_counter() >= deadline:
                break
        per = max(time.perf_counter() - t0, 1e-6)
        batch = max(1, min(500, int(target_s / per)))
        times = [events_seconds(torch, stream, fn, batch) / batch for _ in range(repeats)]
    return statistics.median(times)


def events_seconds(torch, stream, fn, calls):
    """Seconds that `calls` back-to-back calls of fn take on `stream`, timed with CUDA events there."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(stream)
    for _ in range(calls):
        fn()
    end.record(stream)
    end.synchronize()
    return start.elapsed_time(end) / 1000.0


def matmul_correctness(torch, dev, n=1024):
    """fp32 matmul (the caller keeps TF32 off) against a float64 CPU reference."""
    gen = torch.Generator().manual_seed(int(time.time()))
    a = torch.randn(n, n, generator=gen, dtype=torch.float32)
    b = torch.randn(n, n, generator=gen, dtype=torch.float32)
    with torch.cuda.device(dev):
        out = torch.full((n, n), float("nan"), device=dev)  # poisoned: every element must be written
        torch.matmul(a.to(dev), b.to(dev), out=out)
        got = out.cpu().double()
    ref = a.double() @ b.double()
    rel = (torch.linalg.norm(got - ref) / torch.linalg.norm(ref)).item()
    return {"rel_error": rel, "finite": bool(torch.isfinite(got).all().item()), "n": n}


def matmul_tflops(torch, dev, dtype_name, n=8192):
    """n^3 matmul throughput; TF32 use is set by the caller for every GPU at once (a process-wide
    switch in torch), so GPUs run the same dtype step together."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32, "fp32": torch.float32}[dtype_name]
    with torch.cuda.device(dev):
        a = torch.randn(n, n, device=dev, dtype=dtype)
        b = torch.randn(n, n, device=dev, dtype=dtype)
        c = torch.empty(n, n, device=dev, dtype=dtype)
        secs = timed(torch, dev, lambda: torch.matmul(a, b, out=c), target_s=0.2, warmup_s=1.0)
    return 2.0 * n**3 / secs / 1e12


def device_memory_bandwidth_gbs(torch, dev, nbytes=1 << 30):
    """Device-to-device copy on one GPU, counting bytes read plus bytes written."""
    with torch.cuda.device(dev):
        src = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=dev)
        dst = torch.empty_like(src)
        secs = timed(torch, dev, lambda: dst.copy_(src))
    return 2.0 * nbytes / secs / 1e9


def host_buffers(torch, dev, nbytes):
    with torch.cuda.device(dev):
        host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
        host.fill_(7)
        return host, torch.empty(nbytes, dtype=torch.uint8, device=dev)


def memory_pattern_test(torch, dev, fraction, block_bytes=512 << 20, headroom_bytes=1 << 30):
    """Fill `fraction` of VRAM (capped at free memory less headroom) with patterns; verify all
    blocks only after all were written, so that addressing faults between blocks show. Mismatches
    are counted on the GPU and read once per pattern."""
    with torch.cuda.device(dev):
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info(dev)
        target = min(int(total * fraction), max(0, free - headroom_bytes - block_bytes))
        numel = block_bytes // 8
        blocks = []
        while (len(blocks) + 1) * block_bytes <= target:
            blocks.append(torch.empty(numel, dtype=torch.int64, device=dev))
        expect = torch.empty(numel, dtype=torch.int64, device=dev)
        base = torch.arange(numel, dtype=torch.int64, device=dev)
        t0 = time.perf_counter()
        errors = {}
        constants = (("zeros", 0), ("ones", -1), ("0xAA", -0x5555555555555556), ("0x55", 0x5555555555555555))
        for name, value in constants:
            for blk in blocks:
                blk.fill_(value)
            bad = torch.zeros((), dtype=torch.int64, device=dev)
            for blk in blocks:
                bad += (blk != value).sum()
            errors[name] = int(bad.item())
        for name, invert in (("address", False), ("inverse_address", True)):
            for i, blk in enumerate(blocks):
                torch.add(base, i * numel, out=blk)
                if invert:
                    torch.bitwise_not(blk, out=blk)
            bad = torch.zeros((), dtype=torch.int64, device=dev)
            for i, blk in enumerate(blocks):
                torch.add(base, i * numel, out=expect)
                if invert:
                    torch.bitwise_not(expect, out=expect)
                bad += (blk != expect).sum()
            errors[name] = int(bad.item())
        torch.cuda.current_stream(dev).synchronize()
        tested = len(blocks) * block_bytes
        del blocks, expect, base
        torch.cuda.empty_cache()
    return {
        "tested_gib": _round(tested / 2.0**30),
        "total_gib": _round(total / 2.0**30),
        "errors": errors,
        "seconds": _round(time.perf_counter() - t0),
    }


def link_and_compute_load(torch, dev, seconds=0.4, nbytes=256 << 20, n=4096):
    """Host->device copies, then matmuls, for a while: the PCIe link trains up and the clocks and
    clock-event reasons show under load while NVML samples them."""
    host, devbuf = host_buffers(torch, dev, nbytes)
    with torch.cuda.device(dev):
        stream = torch.cuda.current_stream(dev)
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            for _ in range(4):
                devbuf.copy_(host, non_blocking=True)
            stream.synchronize()
        a = torch.randn(n, n, device=dev, dtype=torch.float16)
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            for _ in range(8):
                torch.matmul(a, a)
            stream.synchronize()
        del a, devbuf


def burn(torch, devices, minutes, window_s=5.0, n=8192):
    """Sustained matmul load on every GPU at once: {key: per-window TFLOP/s series}. devices is
    [(key, torch device, dtype name)]; each GPU's windows are timed on its own stream."""
    per_gpu = {}
    for key, dev, dtype_name in devices:
        dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float16
        with torch.cuda.device(dev):
            a = torch.randn(n, n, device=dev, dtype=dtype)
            per_gpu[key] = {
                "dev": dev,
                "a": a,
                "b": torch.randn(n, n, device=dev, dtype=dtype),
                "c": torch.empty_like(a),
                "series": [],
                "batch": 20,
            }
    t_end = time.perf_counter() + minutes * 60.0
    while time.perf_counter() < t_end:
        marks = {}
        for key, g in per_gpu.items():
            with torch.cuda.device(g["dev"]):
                stream = torch.cuda.current_stream(g["dev"])
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record(stream)
                for _ in range(g["batch"]):
                    torch.matmul(g["a"], g["b"], out=g["c"])
                end.record(stream)
                marks[key] = (start, end)
        for key, (start, end) in marks.items():
            end.synchronize()
            secs = start.elapsed_time(end) / 1000.0
            g = per_gpu[key]
            g["series"].append(2.0 * n**3 * g["batch"] / secs / 1e12)
            g["batch"] = max(1, min(5000, int(g["batch"] * window_s / max(secs, 1e-3))))
    out = {}
    for key, g in per_gpu.items():
        series = g["series"][1:] if len(g["series"]) > 2 else g["series"]  # first window: clocks ramping
        out[key] = series
        del g["a"], g["b"], g["c"]
    torch.cuda.empty_cache()
    return out
