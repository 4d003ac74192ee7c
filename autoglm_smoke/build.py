"""Build the smoke program as one zipapp: this package's modules and references.json, plus the
NVML bindings (pynvml from the controller's pinned nvidia-ml-py) as autoglm_smoke/_bundled/pynvml.py
and the collection's PCI scan (plugins/module_utils/pci.py, the one definition of an NVIDIA GPU) as
autoglm_smoke/_bundled/pci.py. A pynvml installed on the target still wins (nvml.load_nvml tries it
first).

The collection carries this package (its root's autoglm_smoke/), and the action
autoglm.provision.autoglm_smoke_run loads this file from there: everything it reads is found next
to it (standard library only, nothing imported from an installed package), so the collection alone
builds the program. The one requirement beyond it is nvidia-ml-py on the controller.

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
HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = {"build.py"}  # controller-side only
# A fixed timestamp: the same sources give the same bytes, so Ansible's copy sees no change.
EPOCH = (2020, 1, 1, 0, 0, 0)
NVML_PIN = "nvidia-ml-py==13.615.71"  # pyproject.toml and meta/ee-requirements.txt pin the same (test_packaging)


class BuildError(Exception):
    """A requirement of the build is missing; the message names it and how to get it."""


def package_files():
    for name in sorted(os.listdir(HERE)):
        if (name.endswith(".py") or name == "references.json") and name not in SKIP:
            yield os.path.join(HERE, name), f"{PACKAGE}/{name}"


def pynvml_source():
    spec = importlib.util.find_spec("pynvml")
    if spec is None or not spec.origin:
        raise BuildError(
            f"the GPU smoke program bundles pynvml from nvidia-ml-py, which is not installed for the "
            f"controller's Python {sys.executable}: install it there with `{sys.executable} -m pip install "
            f"'{NVML_PIN}'` (an execution environment gets it from the collection's meta/requirements.txt)"
        )
    return spec.origin


def pci_source():
    """pci.py next to this package: the copy the wheel's build puts in _bundled/ (the installed
    package has no collection beside it), else the collection's plugins/module_utils/pci.py (this
    package inside the collection: the checkout, an installed collection, the wheel's copy of it)."""
    candidates = (os.path.join(HERE, "_bundled", "pci.py"),
                  os.path.join(os.path.dirname(HERE), "plugins", "module_utils", "pci.py"))
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise BuildError(
        "the autoglm.provision collection's plugins/module_utils/pci.py is not next to the smoke program "
        f"({HERE}): the program is incomplete; reinstall the collection (or the autoglm-provision package)"
    )


def _add(zf, arcname, data):
    info = zipfile.ZipInfo(arcname, EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def build(out_path):
    """The zipapp at out_path (written atomically); BuildError when a requirement is missing."""
    bundled = {"pynvml.py": pynvml_source(), "pci.py": pci_source()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, arcname in package_files():
            _add(zf, arcname, _read(path))
        for name, path in bundled.items():
            _add(zf, f"{PACKAGE}/_bundled/{name}", _read(path))
        _add(zf, f"{PACKAGE}/_bundled/__init__.py", b"")
        _add(zf, "__main__.py", b"import sys\nfrom autoglm_smoke.__main__ import run\nsys.exit(run())\n")
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(b"#!/usr/bin/env python3\n" + buf.getvalue())
    os.chmod(tmp, 0o755)
    os.replace(tmp, out_path)
    return out_path


def main(argv=None):
    p = argparse.ArgumentParser(description="build the GPU smoke program's zipapp")
    p.add_argument("out", help="path of the .pyz to write")
    args = p.parse_args(argv)
    try:
        print(build(args.out))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
