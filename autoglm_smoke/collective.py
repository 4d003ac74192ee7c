"""NCCL all-reduce over the measured GPUs, one process per GPU, as a size sweep (nccl-tests'
definition of bus bandwidth), correct at every size. The workers start early and wait: they load
torch and make their NCCL communicator while the parent measures the GPUs, and run the sweep when
the parent writes the 'go' file. They make their communicators (CUDA contexts, NCCL buffers) only
when the parent writes 'init', at a step that times nothing, so that no measured figure shares
its GPU with that set-up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from autoglm_smoke import NCCL_SAFE_ENV
from autoglm_smoke.devices import cuda_devices, match_devices
from autoglm_smoke.figures import bus_bandwidth_gbs

# From 128 MiB: each all-reduce is issued from Python through c10d, whose cost per call is a
# visible share of the time below that on NVLink (bench/gpu_smoke_vs_independent.py against
# nccl-tests; figures in bench/README.md); small-message latency is nccl-tests' business,
# bandwidth at the sizes that carry gradients is this check's.
SWEEP_BYTES = (128 << 20, 256 << 20, 512 << 20, 1 << 30, 2 << 30)
WORKER_FLAG = "--collective-worker"


def self_command():
    """(argv prefix, extra env) that starts this program again: the zipapp file, or the package."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isfile(root):  # running from the zipapp
        return [sys.executable, root], {}
    return [sys.executable, "-m", "autoglm_smoke"], {"PYTHONPATH": os.pathsep.join([root] + sys.path[1:])}


def iterations(nbytes):
    """Enough back-to-back all-reduces to time well past launch cost, few at the large sizes."""
    return max(5, min(50, int((2 << 30) * 10 // nbytes)))


def wait_for(path, timeout_s=1800):
    """True once `path` exists; False when the parent died (re-parented to init) or time ran out."""
    deadline = time.time() + timeout_s
    while not os.path.exists(path):
        if time.time() > deadline or os.getppid() == 1:
            return False
        time.sleep(0.02)
    return True


def find_cuda_index(torch, uuid, pci_bus_id):
    """This worker's CUDA device: the one with the GPU's NVML UUID, else its PCI bus id."""
    mapping, _ = match_devices([{"index": 0, "uuid": uuid, "pci_bus_id": pci_bus_id}], cuda_devices(torch))
    return mapping.get(0)


def _init_group(dist, dev, rank, world, workdir):
    init = {"init_method": "file://" + os.path.join(workdir, "store"), "rank": rank, "world_size": world}
    try:
        dist.init_process_group("nccl", device_id=dev, **init)
    except TypeError:  # torch before 2.3 has no device_id
        dist.init_process_group("nccl", **init)


def _sweep_step(torch, dist, dev, rank, world, nbytes, warm):
    """One size: the sum checked, then iterations() all-reduces timed (sums of zeros stay finite)."""
    numel = nbytes // 4
    base = (torch.arange(numel, device=dev) % 251).to(torch.float32)
    x = base + rank
    dist.all_reduce(x)
    expected = base * world + world * (world - 1) // 2
    max_err = (x - expected).abs().max().item()
    del x, expected, base
    buf = torch.zeros(numel, device=dev, dtype=torch.float32)
    for _ in range(3):
        dist.all_reduce(buf)
    n_iter = iterations(nbytes)
    secs = timed_allreduce(torch, dist, dev, buf, warm, n_iter)
    del buf
    torch.cuda.empty_cache()
    return {
        "bytes": numel * 4,
        "iterations": n_iter,
        "seconds": secs,
        "algbw_gbs": numel * 4 / secs / 1e9,
        "busbw_gbs": bus_bandwidth_gbs(numel * 4, secs, world),
        "correct": max_err == 0.0,
        "max_abs_error": max_err,
    }


def worker(rank, world, uuid, pci_bus_id, workdir, sizes):
    """One rank: find its GPU, make the communicator when told, wait for 'go', then for every size
    check the sum and time iterations() all-reduces with CUDA events on this GPU's stream. Rank 0
    writes result.json."""
    import torch  # noqa: PLC0415
    import torch.distributed as dist  # noqa: PLC0415

    cuda_index = find_cuda_index(torch, uuid, pci_bus_id)
    if cuda_index is None:  # hidden from CUDA in this environment: the parent starts a new sweep
        with open(os.path.join(workdir, f"absent.{rank}"), "w") as fh:
            fh.write(f"{uuid} {pci_bus_id}\n")
        return 4
    if not wait_for(os.path.join(workdir, "init")):
        return 3  # the parent is gone or never said init
    dev = torch.device("cuda", cuda_index)
    torch.cuda.set_device(dev)
    _init_group(dist, dev, rank, world, workdir)
    try:
        warm = torch.ones(1 << 18, device=dev)
        dist.all_reduce(warm)  # the communicator is made here, before the parent says go
        torch.cuda.synchronize(dev)
        with open(os.path.join(workdir, f"ready.{rank}"), "w") as fh:
            fh.write("ready\n")
        if not wait_for(os.path.join(workdir, "go")):
            return 3  # the parent is gone or never said go
        sweep = [_sweep_step(torch, dist, dev, rank, world, nbytes, warm) for nbytes in sizes]
        if rank == 0:
            tmp = os.path.join(workdir, "result.json.tmp")
            with open(tmp, "w") as fh:
                json.dump({"world": world, "backend": "nccl", "sweep": sweep}, fh)
            os.replace(tmp, os.path.join(workdir, "result.json"))
    except BaseException:
        dist.destroy_process_group()
        raise
    # Done: every collective has completed on this rank. Tearing the communicator down takes longer
    # than the sweep; the process's exit frees it as well, so leave at once.
    sys.stdout.flush()
    os._exit(0)


def timed_allreduce(torch, dist, dev, buf, warm, n_iter):
    """Seconds per all-reduce: n_iter back to back, timed with CUDA events on this GPU's stream."""
    stream = torch.cuda.current_stream(dev)
    dist.all_reduce(warm)  # the ranks start the timed part together
    stream.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(stream)
    for _ in range(n_iter):
        dist.all_reduce(buf)
    end.record(stream)
    end.synchronize()
    return start.elapsed_time(end) / 1000.0 / n_iter


class AllReduceSweep:
    """Start the workers now (start()), let them set up (init()) and run the sweep later
    (collect()). GPUs are named by NVML UUID and PCI bus id, so the workers can start before this
    process has loaded torch: each finds its own CUDA device."""

    def __init__(self, gpus, sizes=SWEEP_BYTES, timeout_s=300):
        self.gpus = [(g.get("uuid") or "-", g.get("pci_bus_id") or "-") for g in gpus]
        self.sizes, self.timeout_s = sizes, timeout_s
        self.workdir = tempfile.mkdtemp(prefix="autoglm-allreduce-")
        self.procs = []

    def start(self):
        argv, extra_env = self_command()
        env = dict(os.environ, **extra_env)
        env.update(NCCL_SAFE_ENV)
        world = len(self.gpus)
        sizes = ",".join(str(s) for s in self.sizes)
        for rank, (uuid, bus) in enumerate(self.gpus):
            cmd = argv + [WORKER_FLAG, str(rank), str(world), uuid, bus, self.workdir, sizes]
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        return self

    def _signal(self, name):
        with open(os.path.join(self.workdir, name), "w") as fh:
            fh.write(name + "\n")

    def init(self):
        """Let the workers make their communicators now."""
        self._signal("init")

    def wait_ready(self, timeout_s=120):
        """Wait until every worker has its communicator (or one has exited, or time ran out)."""
        self.init()
        deadline = time.time() + timeout_s
        ready = [os.path.join(self.workdir, f"ready.{r}") for r in range(len(self.procs))]
        while time.time() < deadline and not all(os.path.exists(p) for p in ready):
            if any(p.poll() is not None for p in self.procs):
                return
            time.sleep(0.02)

    def collect(self):
        """Say go, wait for every worker, and return the result (or {"error": ...})."""
        self.init()
        self._signal("go")
        logs, deadline = [], time.time() + self.timeout_s
        try:
            for p in self.procs:
                stdout, _ = p.communicate(timeout=max(1, deadline - time.time()))
                logs.append(stdout.decode("utf-8", "replace")[-600:])
        except subprocess.TimeoutExpired:
            self.cancel()
            return {"error": f"all-reduce did not finish within {self.timeout_s} s"}
        result_path = os.path.join(self.workdir, "result.json")
        try:
            if any(p.returncode for p in self.procs) or not os.path.exists(result_path):
                return {"error": "all-reduce worker failed: " + " | ".join(s.strip() for s in logs if s.strip())}
            with open(result_path) as fh:
                return json.load(fh)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def cancel(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)
