"""The GPU SKU table (nvidia_gpu_skus.json) and the decisions made from it, for the nvidia_driver role
(through plugins/filter/nvidia_driver.py) and for `autoglm-provision validate` (provisioner/rules/driver.py),
which import this module: one table, one set of rules.

- `find_model(name)` / `find_device(device_id)`: the rows a declared model or a PCI device id stands for.
- `combination_problems(...)`: what no host could run (GPU model x driver branch/pin x CUDA x module flavour),
  each with the variable to change, the reason and the fix.
- `module_flavour(requested, branch, archs)`: the kernel-module flavour to install (open or proprietary)
  and why (docs/nvidia-driver.md, "Kernel module flavour").
"""

from __future__ import annotations

import json
import os
import re

_DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nvidia_gpu_skus.json")
with open(_DATA_FILE, encoding="utf-8") as _handle:
    DATA = json.load(_handle)

SKUS = DATA["skus"]
ARCHS = DATA["architectures"]
CUDA = {k: v for k, v in DATA["cuda"].items() if not k.startswith("_")}
OPEN_FROM_BRANCH = int(DATA["open_modules_from_branch"])
OPEN_DEFAULT_FROM_BRANCH = int(DATA["open_default_from_branch"])
PRE_TURING_BELOW = int(DATA["device_id_ranges"]["pre_turing_below"], 16)
BLACKWELL_FROM = int(DATA["device_id_ranges"]["blackwell_from"], 16)
FLAVOURS = ("auto", "open", "proprietary")


def _key(text: object) -> str:
    """A model name compared without case, spaces, dashes or a leading 'NVIDIA'."""
    key = re.sub(r"[\s_-]+", "", str(text)).upper()
    return key[len("NVIDIA"):] if key.startswith("NVIDIA") else key


def find_model(name: object) -> list[dict]:
    """Rows for a declared model: an exact SKU or name ('H100 PCIe'), else its family ('H100' = every H100
    row), else the family of its first word ('h100 SXM5 80GB' -> H100). [] when the table has no such GPU."""
    key = _key(name)
    if not key:
        return []
    exact = [row for row in SKUS if key in {_key(row["sku"]), *map(_key, row["names"])}]
    if exact:
        return exact
    family = [row for row in SKUS if _key(row["family"]) == key]
    if family:
        return family
    first = str(name).split()[0] if str(name).split() else ""
    return [row for row in SKUS if _key(row["family"]) == _key(first)] if first and _key(first) != key else []


def _device_int(device_id: object) -> int | None:
    try:
        return int(str(device_id), 16)
    except ValueError:
        return None


def find_device(device_id: object) -> dict:
    """What a PCI device id (e.g. '0x2330') is: its row's sku/arch, else the architecture its id range
    implies ('by device-id range'), else unknown."""
    number = _device_int(device_id)
    for row in SKUS:
        if number is not None and number in {int(x, 16) for x in row["device_ids"]}:
            return {"device_id": str(device_id), "sku": row["sku"], "arch": row["arch"], "row": row,
                    "known_by": "SKU table"}
    arch = None
    if number is not None and number < PRE_TURING_BELOW:
        arch = "volta"  # the strictest pre-Turing rule: proprietary modules only
    elif number is not None and number >= BLACKWELL_FROM:
        arch = "blackwell"
    return {"device_id": str(device_id), "sku": None, "arch": arch, "row": None,
            "known_by": "device-id range" if arch else "unknown"}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split("."))


def driver_meets(branch: str, pinned: str, minimum: str) -> bool:
    """Whether the driver that will be installed (the pin, else the newest of the branch) is >= minimum,
    which is an exact release or just a branch."""
    if pinned:
        return _version(pinned) >= _version(minimum)
    return int(branch) >= int(str(minimum).split(".", maxsplit=1)[0])


def _open_need(archs: list[str]) -> str:
    """'required', 'unsupported', 'conflict' (both kinds of GPU), or 'supported' (also for no GPU known)."""
    needs = {ARCHS[a]["open_modules"] for a in archs if a in ARCHS}
    if {"required", "unsupported"} <= needs:
        return "conflict"
    for need in ("required", "unsupported"):
        if need in needs:
            return need
    return "supported"


def module_flavour(requested: str, branch: object, archs: list[str]) -> dict:
    """The kernel-module flavour for `nvidia_driver_kernel_module_type=requested` at `branch` with GPUs of
    architectures `archs` (declared and found; unknown ones left out). Returns {type, reason, ok}: ok is
    False when `requested` cannot work (type is then what was asked, reason says why and what to set)."""
    branch_n = int(str(branch))
    need = _open_need(archs)
    labels = ", ".join(sorted({ARCHS[a]["label"] for a in archs if a in ARCHS})) or "no GPU known"
    if need == "conflict":
        return {"type": requested, "ok": False, "variable": "nvidia_driver_gpu_models",
                "reason": f"GPUs that need the open modules and GPUs that cannot use them ({labels}) in one host: "
                          "no flavour drives both; split them across hosts"}
    if requested == "open" or (requested == "auto" and need == "required"):
        if need == "unsupported":
            return {"type": "open", "ok": False, "variable": "nvidia_driver_kernel_module_type",
                    "reason": f"{labels} GPUs have no GSP and cannot run the open modules: "
                              "set nvidia_driver_kernel_module_type=proprietary (or auto)"}
        if branch_n < OPEN_FROM_BRANCH:
            return {"type": "open", "ok": False, "variable": "nvidia_driver_branch",
                    "reason": f"branch {branch_n} has no open kernel modules (they start with R{OPEN_FROM_BRANCH}): "
                              f"raise nvidia_driver_branch"}
        required = ", ".join(sorted({ARCHS[a]["label"] for a in archs
                                     if ARCHS.get(a, {}).get("open_modules") == "required"}))
        why = (f"{required}: the open modules are required (the proprietary build fails RmInitAdapter)"
               if need == "required" else "asked for (nvidia_driver_kernel_module_type=open)")
        return {"type": "open", "ok": True, "reason": why}
    if requested == "proprietary":
        if need == "required":
            return {"type": "proprietary", "ok": False, "variable": "nvidia_driver_kernel_module_type",
                    "reason": f"{labels} GPUs run only with the open kernel modules: "
                              "set nvidia_driver_kernel_module_type=open (or auto)"}
        return {"type": "proprietary", "ok": True, "reason": "asked for (nvidia_driver_kernel_module_type=proprietary)"}
    return _auto_without_requirement(branch_n, need, labels)


def _auto_without_requirement(branch_n: int, need: str, labels: str) -> dict:
    if need == "unsupported":
        return {"type": "proprietary", "ok": True,
                "reason": f"auto: {labels} GPUs cannot use the open modules"}
    if labels == "no GPU known":
        return {"type": "proprietary", "ok": True,
                "reason": "auto: no GPU declared (nvidia_driver_gpu_models) or found on the PCI bus; "
                          "proprietary, the flavour every GPU generation this role knows can use"}
    if branch_n >= OPEN_DEFAULT_FROM_BRANCH:
        return {"type": "open", "ok": True,
                "reason": f"auto: {labels} GPUs at branch {branch_n} (>= {OPEN_DEFAULT_FROM_BRANCH}: "
                          "NVIDIA's default and recommendation for Turing and newer)"}
    return {"type": "proprietary", "ok": True,
            "reason": f"auto: branch {branch_n} (< {OPEN_DEFAULT_FROM_BRANCH}: NVIDIA's default there is "
                      "proprietary; the open modules are recommended for Turing+ from R560)"}


def _rows_for(models: list) -> list[tuple[str, dict]]:
    """(declared name, row) per declared model the table knows. A family ('H100') stands for its strictest
    row (highest minimum driver, then highest compute capability), named by the family."""
    found = []
    for model in models:
        rows = find_model(model)
        if not rows:
            continue
        row = max(rows, key=lambda r: (_version(r["min_driver"]) + (0,) * 3)[:3] + (r["sm"],))
        found.append((str(model), row if len(rows) == 1 else {**row, "sku": row["family"]}))
    return found


def _first_cuda_for(sm: int) -> str | None:
    fits = sorted((v for v, c in CUDA.items() if c["max_sm"] >= sm), key=_version)
    return fits[0] if fits else None


def _driver_problems(name: str, row: dict, branch: str, pinned: str) -> list[dict]:
    installed = pinned or f"newest {branch}.x"
    variable = "nvidia_driver_version" if pinned else "nvidia_driver_branch"
    problems = []
    arch = ARCHS[row["arch"]]
    if not driver_meets(branch, pinned, row["min_driver"]):
        problems.append({"variable": variable, "value": pinned or branch,
                         "message": f"driver {installed} does not support {name} GPUs ({row['sku']}, {arch['label']}; "
                                    f"nvidia_driver_gpu_models), which need driver >= {row['min_driver']} "
                                    f"(SKU table, confidence {row['confidence']})",
                         "allowed": f"a branch/version >= {row['min_driver']}, e.g. branch "
                                    f"'{max(535, int(row['min_driver'].split('.')[0]))}'"})
    if arch.get("max_branch") and int(branch) > int(arch["max_branch"]):
        problems.append({"variable": "nvidia_driver_branch", "value": branch,
                         "message": f"{name} GPUs ({arch['label']}) are not supported after branch "
                                    f"{arch['max_branch']}",
                         "allowed": f"a branch <= {arch['max_branch']}"})
    return problems


def _cuda_problem(name: str, row: dict, cuda: str) -> list[dict]:
    limits = CUDA.get(cuda)
    if not limits or row["sm"] <= limits["max_sm"]:
        return []
    first = _first_cuda_for(row["sm"])
    need = f"CUDA >= {first} (driver >= {CUDA[first]['min_driver']})" if first else "a newer CUDA"
    arch = ARCHS[row["arch"]]
    flavour = " and the open kernel modules" if arch["open_modules"] == "required" else ""
    return [{"variable": "cuda_version", "value": cuda,
             "message": f"{name} GPUs ({row['sku']}, {arch['label']}, sm_{row['sm']}) need {need}{flavour}; "
                        f"CUDA {cuda} compiles for sm_{limits['max_sm']} at most, so nothing built with it runs there",
             "allowed": f"cuda_version {first or '(newer)'} or later; this project's stack (cuda, python_venv) is "
                        f"CUDA 11.8 only, so take {name} out of nvidia_driver_gpu_models for this host and "
                        f"provision it with a CUDA >= {first or '12.8'} stack"}]


def combination_problems(models: list, branch: str, pinned: str, cuda: str, requested: str) -> list[dict]:
    """Every reason why GPU models x driver branch/pin x CUDA toolkit x module flavour cannot work,
    as {variable, value, message, allowed}. Models the table does not know are not guessed at."""
    rows = _rows_for(models)
    problems: list[dict] = []
    for name, row in rows:
        problems += _driver_problems(name, row, branch, pinned)
        problems += _cuda_problem(name, row, cuda)
    if requested in FLAVOURS:
        decision = module_flavour(requested, branch, sorted({row["arch"] for _, row in rows}))
        if not decision["ok"]:
            variable = decision["variable"]
            value = {"nvidia_driver_branch": branch, "nvidia_driver_gpu_models": list(models)}.get(variable, requested)
            problems.append({"variable": variable, "value": value,
                             "message": f"kernel module flavour {decision['type']} cannot work: {decision['reason']}",
                             "allowed": "open needs Turing or newer and branch >= "
                                        f"{OPEN_FROM_BRANCH}; Blackwell and Grace Hopper need open; "
                                        "Volta and older need proprietary"})
    return problems
