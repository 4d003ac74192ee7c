"""Filters for the gpu_smoke role: the per-GPU key figures the run report shows."""

from __future__ import annotations


def gpu_smoke_key_figures(gpu: dict) -> dict:
    """One GPU of the smoke JSON reduced to what the run report shows: identity, figures, and
    the names of checks that failed or warned."""
    checks = gpu.get("checks") or []
    return {
        "index": gpu.get("index"),
        "name": gpu.get("name"),
        "sku": gpu.get("sku"),
        "uuid": gpu.get("uuid"),
        "pci_bus_id": gpu.get("pci_bus_id"),
        "figures": gpu.get("figures") or {},
        "failed": [c["name"] for c in checks if c.get("verdict") == "fail"],
        "warned": [c["name"] for c in checks if c.get("verdict") == "warn"],
    }
