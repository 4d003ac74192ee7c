# Apache-2.0. The one sysfs PCI scan and the one definition of an NVIDIA GPU.
# Standard library only, Python 3.8+: Ansible ships this file with the modules that import it
# (bios_prereq, nvidia_driver_facts, autoglm_pci_gpus) and autoglm_smoke.build bundles it into the
# GPU smoke zipapp (autoglm_smoke/_bundled/pci.py), which runs on the target's own Python.
"""Read /sys/bus/pci/devices: every function with its IDs, class, driver and BARs, and classify it."""

import os

NVIDIA_VENDOR = "0x10de"
# An NVIDIA GPU is an NVIDIA (vendor 0x10de) function of PCI class 0x0300 (VGA controller:
# workstation/consumer boards) or 0x0302 (3D controller: data-centre boards, H100/H200/A100...).
# These are exactly the classes the nvidia kernel driver binds (its nv_pci_table matches vendor
# 0x10de with class VGA or 3D), so they are what NVML and CUDA can see. Not GPUs:
#  - 0x1200 (processing accelerator): the nvidia driver does not bind it and no NVIDIA GPU uses it;
#    other vendors' accelerators (Intel Gaudi, some AMD Instinct) do. bios_prereq still lists such
#    functions as SR-IOV candidates (is_display_or_accelerator), never as NVIDIA GPUs.
#  - 0x0680 (bridge, other): NVSwitch; 0x0403 (audio): a board's HDMI/DP audio function.
#  - SR-IOV virtual functions (a vGPU VF of an A100/H100 in SR-IOV mode has class 0x0302 too, but
#    it is a slice of its physical function, not another GPU). Inside a VM a passed-through VF has
#    no physfn link there, so it counts: it is that VM's GPU.
NVIDIA_GPU_CLASSES = ("0x0300", "0x0302")
NVSWITCH_CLASS = "0x0680"
DISPLAY_CLASS = "0x03"  # base class 0x03: display controllers (VGA, XGA, 3D, other)
ACCELERATOR_CLASS = "0x1200"  # processing accelerator
NETWORK_CLASS = "0x02"

# Linux IORESOURCE_* flags in sysfs "resource" (include/linux/ioport.h).
IORESOURCE_PREFETCH = 0x2000
IORESOURCE_MEM_64 = 0x100000


def _text(path):
    """Text of a sysfs file, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def _read(path):
    """Stripped, lower-cased text of a sysfs attribute, or None when it is missing or unreadable."""
    text = _text(path)
    return None if text is None else text.strip().lower()


def parse_resources(text):
    """The first six lines of a sysfs "resource" file (the BARs) as dicts: bar (register slot),
    start, end, flags, size, mem64_prefetch. Unassigned slots read as zeros and keep size 0."""
    bars = []
    for index, line in enumerate((text or "").splitlines()[:6]):
        fields = line.split()
        if len(fields) != 3:
            continue
        try:
            start, end, flags = (int(field, 16) for field in fields)
        except ValueError:
            continue
        bars.append(
            {
                "bar": index,
                "start": start,
                "end": end,
                "flags": flags,
                "size": end - start + 1 if end > start else 0,
                "mem64_prefetch": bool(flags & IORESOURCE_MEM_64 and flags & IORESOURCE_PREFETCH),
            }
        )
    return bars


def read_device(devices_dir, address):
    """One function of /sys/bus/pci/devices as a dict (IDs and class lower-case hex strings, '' when
    unreadable; driver None when unbound; bars [] when the resource file cannot be read)."""
    path = os.path.join(devices_dir, address)
    driver = os.path.join(path, "driver")
    return {
        "address": address,
        "path": path,
        "vendor": _read(os.path.join(path, "vendor")) or "",
        "device": _read(os.path.join(path, "device")) or "",
        "class": _read(os.path.join(path, "class")) or "",
        "driver": os.path.basename(os.path.realpath(driver)) if os.path.lexists(driver) else None,
        "numa_node": _read(os.path.join(path, "numa_node")),
        "virtual_function": os.path.lexists(os.path.join(path, "physfn")),
        "bars": parse_resources(_text(os.path.join(path, "resource"))),
    }


def scan(sysfs_root="/sys"):
    """Every PCI function under ``sysfs_root``/bus/pci/devices, sorted by address; None when that
    directory is missing or cannot be listed (no sysfs there: the count is unknown, not zero)."""
    base = os.path.join(sysfs_root, "bus", "pci", "devices")
    try:
        addresses = sorted(os.listdir(base))
    except OSError:
        return None
    return [read_device(base, address) for address in addresses]


def is_nvidia(dev):
    return dev["vendor"] == NVIDIA_VENDOR


def is_nvidia_gpu(dev):
    """The one definition (see NVIDIA_GPU_CLASSES): an NVIDIA VGA or 3D controller physical function."""
    return is_nvidia(dev) and dev["class"].startswith(NVIDIA_GPU_CLASSES) and not dev["virtual_function"]


def is_nvswitch(dev):
    return is_nvidia(dev) and dev["class"].startswith(NVSWITCH_CLASS)


def is_network(dev):
    return dev["class"].startswith(NETWORK_CLASS)


def is_display_or_accelerator(dev):
    """Any vendor's display-class (0x03xx) or processing-accelerator (0x1200) function: the devices
    an IOMMU/SR-IOV check lists besides NICs. Broader than is_nvidia_gpu on purpose."""
    return dev["class"].startswith((DISPLAY_CLASS, ACCELERATOR_CLASS))


def nvidia_gpus(sysfs_root="/sys"):
    """The NVIDIA GPUs on the bus (None when the bus cannot be listed)."""
    devices = scan(sysfs_root)
    return None if devices is None else [dev for dev in devices if is_nvidia_gpu(dev)]


def nvidia_bar1(bars):
    """NVIDIA's "BAR1" (the framebuffer aperture) is the second BAR in register order. A 64-bit BAR
    takes two register slots, so it is sysfs resource1 after a 32-bit BAR0 and resource2 after a
    64-bit one (the H100 SXM read on the GPU machine: 16 MiB BAR0 64-bit, 128 GiB at resource2)."""
    by_slot = {b["bar"]: b for b in bars}
    slot, logical = 0, []
    while slot < 6:
        bar = by_slot.get(slot)
        if bar is None or (bar["size"] == 0 and bar["flags"] == 0):
            slot += 1
            continue
        logical.append(bar)
        slot += 2 if bar["flags"] & IORESOURCE_MEM_64 else 1
    return logical[1] if len(logical) > 1 else None
