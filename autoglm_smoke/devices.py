"""Which NVML GPU is which CUDA device: matched by UUID, else by PCI bus id, never by index
(CUDA_VISIBLE_DEVICES, Slurm and device plugins renumber CUDA devices); and which GPUs this run
measures (--gpus)."""

from __future__ import annotations

import os

from autoglm_smoke.host import pci_key


def cuda_devices(torch):
    """[{"cuda_index", "uuid" ('GPU-...'), "pci": (domain, bus, device) or None}] as CUDA sees them."""
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        uuid = getattr(props, "uuid", None)
        uuid = None if uuid is None else str(uuid)
        if uuid and not uuid.startswith(("GPU-", "MIG-")):
            uuid = "GPU-" + uuid
        pci = None
        if getattr(props, "pci_bus_id", None) is not None:
            pci = (int(getattr(props, "pci_domain_id", 0) or 0), int(props.pci_bus_id), int(props.pci_device_id))
        out.append({"cuda_index": i, "uuid": uuid, "pci": pci})
    return out


def match_devices(nvml_facts, cuda_devs):
    """{nvml index: cuda index} plus the CUDA indices that matched no NVML GPU."""
    by_uuid = {d["uuid"].lower(): d["cuda_index"] for d in cuda_devs if d["uuid"]}
    by_pci = {d["pci"]: d["cuda_index"] for d in cuda_devs if d["pci"] is not None}
    mapping = {}
    for f in nvml_facts:
        cuda_index = by_uuid.get((f.get("uuid") or "").lower())
        if cuda_index is None and f.get("pci_bus_id"):
            cuda_index = by_pci.get(pci_key(f["pci_bus_id"]))
        if cuda_index is not None:
            mapping[f["index"]] = cuda_index
    unmatched = sorted(set(d["cuda_index"] for d in cuda_devs) - set(mapping.values()))
    return mapping, unmatched


def parse_selection(text):
    """--gpus 'all' or a comma list of NVML indices, UUIDs or PCI bus ids -> list of tokens."""
    if text is None or text.strip().lower() == "all":
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def selected(facts, tokens):
    """Is this GPU (NVML facts) named by the --gpus tokens? None selects all."""
    if tokens is None:
        return True
    for token in tokens:
        if token.isdigit() and int(token) == facts["index"]:
            return True
        if facts.get("uuid") and token.lower() == facts["uuid"].lower():
            return True
        if facts.get("pci_bus_id") and ":" in token and pci_key(token) == pci_key(facts["pci_bus_id"]):
            return True
    return False


def unknown_tokens(facts_list, tokens):
    """--gpus tokens that name no GPU of this host."""
    if tokens is None:
        return []
    return [t for t in tokens if not any(selected(f, [t]) for f in facts_list)]


def plan(facts_list, cuda_devs, tokens):
    """Per NVML GPU: the CUDA index to measure it on, or the reason it is not measured."""
    mapping, unmatched = match_devices(facts_list, cuda_devs)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    out = {}
    for f in facts_list:
        idx = f["index"]
        if not selected(f, tokens):
            out[idx] = (None, "not selected by --gpus")
        elif idx not in mapping:
            why = "hidden from CUDA" + (f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else "")
            out[idx] = (None, why + ": NVML health checks only")
        else:
            out[idx] = (mapping[idx], None)
    hidden = [f["index"] for f in facts_list if f["index"] not in mapping]
    summary = {"count": len(cuda_devs), "unmatched": unmatched, "hidden": hidden, "visible_devices": visible}
    return out, summary
