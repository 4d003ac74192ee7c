"""Run by the venv's own interpreter: import each package, compare versions with the lock.

usage: verify_venv.py LOCK IMPORT_NAMES_JSON DISTRIBUTIONS_JSON   (prints one JSON object)
"""

import importlib
import importlib.metadata as md
import json
import re
import sys
import traceback

from pip._vendor.packaging.markers import Marker
from pip._vendor.packaging.utils import canonicalize_name
from pip._vendor.packaging.version import Version


def locked_versions(path):
    with open(path) as handle:
        text = re.sub(r"\\\n", " ", handle.read())
    pins = {}
    for line in text.splitlines():
        line = re.sub(r"--hash[=\s]+\S+", "", line.split("#", 1)[0]).strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.partition("==")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def main():
    lock, modules, dists = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    pins = locked_versions(lock)
    result = {"python": ".".join(map(str, sys.version_info[:3])), "versions": {}, "errors": [],
              "torch_cuda": None, "cuda_available": None}
    if len(dists) != len(modules):
        sys.exit(f"verify_venv.py: {len(dists)} distributions but {len(modules)} import names")
    # no zip(strict=): this runs on the venv's Python, 3.9 included
    for dist, module in zip(dists, modules):
        try:
            importlib.import_module(module)
        except Exception:  # any import failure is a finding, reported with its last line
            last = traceback.format_exc().strip().splitlines()[-1]
            result["errors"].append(f"import {module} ({dist}) failed: {last}")
            continue
        version = md.version(dist)
        result["versions"][dist] = version
        wanted = pins.get(canonicalize_name(dist))
        if wanted is None or Version(version) != Version(wanted):
            result["errors"].append(f"{dist} is {version}, the lock pins {wanted}")
    if "torch" in result["versions"]:
        import torch

        result["torch_cuda"] = torch.version.cuda
        result["cuda_available"] = torch.cuda.is_available()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
