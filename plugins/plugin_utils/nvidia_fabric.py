"""Fabric manager for NVSwitch hosts: which package pins it to the running driver, and what the GPUs'
fabric state (`nvidia-smi -q`, section "Fabric") says. Pure functions, used by the nvidia_driver role
through plugins/filter/nvidia_driver.py and tested on fixtures of real outputs (tests/fixtures/nvidia_smi_fabric).

Package naming (docs/nvidia-driver.md, "Fabric manager"): up to branch 575 the package is
`nvidia-fabricmanager-<branch>`, versioned as the driver. From 580, in NVIDIA's CUDA repository,
`nvidia-fabricmanager-<branch>` is a virtual package provided by `nvidia-fabricmanager` (the real one,
versioned as the driver), and apt cannot pin a version on a virtual name ("Version '580.65.06-1' for
'nvidia-fabricmanager-580' was not found", NVIDIA/gpu-driver-container#451). Ubuntu's own archive may
keep the branch-named package, so the role offers apt both names, the expected one first, and installs
the first that apt can resolve at the driver's exact version.
"""

from __future__ import annotations

import re

RENAMED_FROM_BRANCH = 580

# nvidia-smi -q: a "GPU 00000000:18:00.0" header per GPU; the Fabric block's fields are indented below it.
GPU_HEADER = re.compile(r"^GPU\s+([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$")
FIELD = re.compile(r"^(\s*)([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$")
HEALTHY = ("Completed", "Success")


def fabricmanager_candidates(branch: object, version: str) -> list[str]:
    """apt specs that install fabric manager at exactly `version` (the running/installed driver),
    the name the branch is expected to use first."""
    branch_n = int(str(branch))
    named = f"nvidia-fabricmanager-{branch_n}={version}-*"
    renamed = f"nvidia-fabricmanager={version}-*"
    return [renamed, named] if branch_n >= RENAMED_FROM_BRANCH else [named, renamed]


def pick_fabricmanager(candidates: list[str], simulations: list[dict]) -> dict:
    """The first candidate whose `apt-get install --simulate` (a registered loop result, same order)
    succeeded: {spec, package, tried}; spec is '' when none resolves (the role then fails naming each)."""
    tried = []
    for spec, result in zip(candidates, simulations, strict=False):
        rc = result.get("rc", 1)
        error = (result.get("stderr") or result.get("msg") or "").strip().splitlines()
        tried.append({"spec": spec, "rc": rc, "error": error[-1] if error and rc != 0 else ""})
        if rc == 0:
            return {"spec": spec, "package": spec.split("=", 1)[0], "tried": tried}
    return {"spec": "", "package": "", "tried": tried}


def _fabric_blocks(text: str) -> list[tuple[str, dict]]:
    """(GPU bus id, {field: value}) for each GPU's Fabric block in `nvidia-smi -q` output."""
    blocks: list[tuple[str, dict]] = []
    gpu, indent, fields = None, None, None
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if header := GPU_HEADER.match(line.strip()):
            gpu, indent, fields = header.group(1), None, None
            continue
        if gpu and line.strip() == "Fabric":
            indent, fields = len(line) - len(line.lstrip()), {}
            blocks.append((gpu, fields))
            continue
        match = FIELD.match(line)
        if fields is None or not line.strip():
            continue
        if match is None or len(match.group(1)) <= indent:
            if len(line) - len(line.lstrip()) <= indent:
                fields = None
            continue
        fields.setdefault(match.group(2).strip(), match.group(3))
    return blocks


def fabric_verdict(fields: dict) -> tuple[str, str]:
    """(verdict, why) for one GPU's Fabric block: ok, not_applicable or fail."""
    state, status = fields.get("State", "N/A"), fields.get("Status", "N/A")
    if state in ("Not Supported", "N/A"):
        return "not_applicable", (f"fabric state {state}: no NVLink fabric to join "
                                  "(PCIe/NVL card, single GPU or pre-Hopper)")
    if (state, status) == HEALTHY:
        summary = fields.get("Summary", "")
        if summary and summary not in ("Healthy", "Not Supported", "N/A"):
            return "fail", f"fabric joined (clique {fields.get('CliqueId', '?')}) but its health summary is {summary}"
        return "ok", f"fabric joined (clique {fields.get('CliqueId', '?')})"
    if state in ("Not Started", "In Progress"):
        return "fail", (f"fabric state {state}: the GPU has not joined the NVLink fabric; nvidia-fabricmanager "
                        "is missing, stopped or not the driver's version (CUDA then fails with error 802, "
                        "cudaErrorSystemNotReady)")
    return "fail", f"fabric state {state}, status {status}"


def fabric_states(text: str) -> dict:
    """Every GPU's fabric state from `nvidia-smi -q` and the host's verdict: fail when any GPU failed,
    ok when any joined the fabric, not_applicable when no GPU has one (PCIe parts report 'Not Supported',
    which never fails a host), unknown when the output has no Fabric block."""
    gpus = []
    for bus_id, fields in _fabric_blocks(text or ""):
        verdict, why = fabric_verdict(fields)
        gpus.append({"gpu": bus_id, "state": fields.get("State", "N/A"), "status": fields.get("Status", "N/A"),
                     "clique_id": fields.get("CliqueId", "N/A"), "cluster_uuid": fields.get("ClusterUUID", "N/A"),
                     "health": fields.get("Summary", "N/A"), "verdict": verdict, "why": why})
    verdicts = {gpu["verdict"] for gpu in gpus}
    verdict = next((v for v in ("fail", "ok", "not_applicable") if v in verdicts), "unknown")
    return {"verdict": verdict, "gpus": gpus,
            "failures": [f"{gpu['gpu']}: {gpu['why']}" for gpu in gpus if gpu["verdict"] == "fail"]}
