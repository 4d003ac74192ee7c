"""autoglm GPU smoke test: does this host's NVIDIA stack work, and is it as fast as it should be?

Runs on the target with the target's Python (3.8+), shipped as one zipapp that the gpu_smoke role
copies (built by ``autoglm_smoke.build``). Modules, each one concern:

  references   per-SKU and per-link reference figures (references.json) and physical bounds
  host         facts that need no NVML: PCI bus scan, kernel module version, kernel-log XIDs
  nvml         NVML facts: identity, health counters, links, P2P status, samplers under load
  devices      NVML GPUs matched to CUDA devices by UUID / PCI bus id, --gpus selection
  checks       the check record and the pure verdict functions for health facts
  figures      the pure verdict functions for measured figures (bounded by physics)
  cuda_work    CUDA work on one device through torch, timed on that device's stream
  interconnect P2P access, peer-copy bandwidth, host-copy aggregate
  collective   NCCL all-reduce size sweep, one process per GPU
  run          orchestration: all GPUs at once where the work is the GPU's own
  verdicts     the verdict contract: code, severity and remediation of every failed/warned check
  smoke_json   the smoke JSON (the program's result), the host verdict and the readable summary
  cli          arguments and the entry point
"""

PROGRAM_VERSION = "2.0.0"
SCHEMA = "autoglm-gpu-smoke/2"
LEVELS = ("quick", "standard", "burn")
# NCCL/PyTorch/NVSHMEM must never use NVLink multicast on shared hosts: it can take every GPU of
# the host out of service. Set in this process's environment before torch loads, and so in every
# process it starts.
NCCL_SAFE_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
