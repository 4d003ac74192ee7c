"""Build the smoke program as one zipapp: this package's modules and references.json, plus the
NVML bindings (pynvml from the controller's pinned nvidia-ml-py) as autoglm_smoke/_bundled/pynvml.py
and the collection's PCI scan (plugins/module_utils/pci.py, the one definition of an NVIDIA GPU) as
autoglm_smoke/_bundled/pci.py. A pynvml installed on the target still wins (nvml.load_nvml tries it
first).

    python -m autoglm_smoke.build OUT.pyz
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import zipfile

PACKAGE = "autoglm_smoke"
SKIP = {"build.py"}  # controller-side only
# A fixed timestamp: the same sources give the same bytes, so Ansible's copy sees no change.
EPOCH = (2020, 1, 1, 0, 0, 0)


def package_files():
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if (name.endswith(".py") or name == "references.json") and name not in SKIP:
            yield os.path.join(here, name), f"{PACKAGE}/{name}"


def pynvml_source():
    spec = importlib.util.find_spec("pynvml")
    if spec is None or not spec.origin:
        raise SystemExit(
            "error: pynvml (nvidia-ml-py) is not installed for "
            + sys.executable
            + ": install the project's dependencies (nvidia-ml-py is pinned in pyproject.toml)"
        )
    return spec.origin


def pci_source():
    """The collection's plugins/module_utils/pci.py: where the collection is importable (pytest,
    a collection directory on sys.path), else the copy inside the installed provisioner package."""
    try:
        spec = importlib.util.find_spec("ansible_collections.autoglm.provision.plugins.module_utils.pci")
    except ImportError:
        spec = None
    if spec is not None and spec.origin:
        return spec.origin
    try:
        from provisioner.paths import COLLECTION  # noqa: PLC0415 - controller side only
    except ImportError as exc:
        raise SystemExit(
            "error: the autoglm.provision collection's plugins/module_utils/pci.py was not found: install "
            "the autoglm-provision package for " + sys.executable + " (" + str(exc) + ")"
        ) from exc
    return str(COLLECTION / "plugins" / "module_utils" / "pci.py")


def build(out_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(path, arcname):
            info = zipfile.ZipInfo(arcname, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(path, "rb") as fh:
                zf.writestr(info, fh.read())

        for path, arcname in package_files():
            add(path, arcname)
        add(pynvml_source(), f"{PACKAGE}/_bundled/pynvml.py")
        add(pci_source(), f"{PACKAGE}/_bundled/pci.py")
        info = zipfile.ZipInfo(f"{PACKAGE}/_bundled/__init__.py", EPOCH)
        zf.writestr(info, "")
        info = zipfile.ZipInfo("__main__.py", EPOCH)
        zf.writestr(info, "import sys\nfrom autoglm_smoke.__main__ import run\nsys.exit(run())\n")
    data = b"#!/usr/bin/env python3\n" + buf.getvalue()
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out_path)
    return out_path


def main(argv=None):
    p = argparse.ArgumentParser(description="build the GPU smoke program's zipapp")
    p.add_argument("out", help="path of the .pyz to write")
    args = p.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
