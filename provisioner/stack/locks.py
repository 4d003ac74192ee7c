"""Locks of the python_venv role's profiles: read with the role's own parser (the module
``python_venv_lock`` that the targets run), checked against their profile, generated, and turned
into a wheelhouse for air-gapped sites (``autoglm-provision wheelhouse PROFILE DIR``).

Maintainers (re)generate a profile's lock with:

    python -m provisioner.stack.locks PROFILE [--python 3.9 --python 3.10 ...] [--stand-in]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from .. import paths
from ..errors import ProvisionerError, UsageError
from .profiles import ROLE_DIR, Profile, _vt, builtin_profiles, minor

LOCK_DIR = ROLE_DIR / "files" / "locks"
CUDA_PACKAGES = ("torch", "torchvision", "torchaudio")
# Wheels for the targets: Linux x86_64 with glibc >= 2.35 (Ubuntu 22.04; Debian 12 has 2.36).
# pip does not widen a --platform tag to older glibc tags by itself: list them all.
TARGET_PLATFORMS = (*(f"manylinux_2_{n}_x86_64" for n in range(35, 16, -1)), "manylinux2014_x86_64",
                    "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64")

# torch line -> the CUDA 11.8 runtime wheels its cu118 build requires, as published in the cu118
# index's metadata (download.pytorch.org/whl/cu118). Used only by `lock --stand-in`, which
# resolves the rest of the closure against PyPI's build of the same torch version when the cu118
# index is unreachable. torch 2.0.x cu118 wheels bundle the CUDA libraries: no runtime wheels.
CU118_RUNTIME: dict[str, dict[str, str]] = {
    "2.7": {
        "nvidia-cuda-nvrtc-cu11": "11.8.89", "nvidia-cuda-runtime-cu11": "11.8.89",
        "nvidia-cuda-cupti-cu11": "11.8.87", "nvidia-cudnn-cu11": "9.1.0.70",
        "nvidia-cublas-cu11": "11.11.3.6", "nvidia-cufft-cu11": "10.9.0.58",
        "nvidia-curand-cu11": "10.3.0.86", "nvidia-cusolver-cu11": "11.4.1.48",
        "nvidia-cusparse-cu11": "11.7.5.86", "nvidia-nccl-cu11": "2.21.5",
        "nvidia-nvtx-cu11": "11.8.86",
    },
    "2.0": {},
}


def parse_lock(text: str) -> list[dict]:
    """The lock's entries, read by the role's own module (plugins/modules/python_venv_lock.py)."""
    return paths.collection_module("modules.python_venv_lock").parse_lock(text)


def check_lock(profile: Profile, lock_text: str) -> list[str]:
    """The lock must pin every top-level package at the profile's version, with hashes if required."""
    try:
        entries = parse_lock(lock_text)
    except ValueError as error:
        return [str(error)]
    locked = {}
    for entry in entries:
        locked.setdefault(canonicalize_name(entry["name"]), set()).add(entry["version"])
    problems = []
    for name, version in profile.packages.items():
        got = locked.get(canonicalize_name(name))
        if got != {version}:
            problems.append(f"lock pins {name} at {', '.join(sorted(got)) if got else 'nothing'}, "
                            f"the profile at {version}")
    if profile.require_hashes and any(not e["hashes"] for e in entries):
        unhashed = [e["name"] for e in entries if not e["hashes"]]
        problems.append(f"profile requires hashes but the lock has none for {', '.join(unhashed[:5])}")
    return problems



def _pip(*args: str, isolated: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "pip", *args]
    if isolated:  # no user/site pip config: a lock must not depend on the machine that made it
        cmd += ["--isolated"]
        if cert := os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE"):
            cmd += ["--cert", cert]
    return cmd


def _platform_args(python: str) -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python]
    for platform in TARGET_PLATFORMS:
        args += ["--platform", platform]
    return args


def resolve(requirements: list[str], python: str, indexes: list[str], find_links: list[str],
            constraints: list[str] = ()) -> dict:
    """name -> (version, sha256 or '') of the closure pip resolves for one Python minor."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        constraints_file = Path(tmp) / "constraints.txt"
        constraints_file.write_text("".join(f"{c}\n" for c in constraints))
        cmd = _pip("install", "-c", str(constraints_file), "--dry-run", "--ignore-installed", "--quiet",
                   "--report", str(report), "--target", str(Path(tmp) / "target"),
                   *_platform_args(python), *requirements)
        for url in indexes:
            cmd += ["--extra-index-url", url]
        for path in find_links:
            cmd += ["--find-links", path]
        subprocess.run(cmd, check=True)
        data = json.loads(report.read_text())
    closure = {}
    for item in data["install"]:
        meta = item["metadata"]
        sha = item.get("download_info", {}).get("archive_info", {}).get("hashes", {}).get("sha256", "")
        closure[canonicalize_name(meta["name"])] = (meta["version"], sha)
    return closure


def stand_in(profile: Profile, closure: dict) -> dict:
    """Turn a closure resolved with PyPI's torch into the cu118 build's closure (see CU118_RUNTIME)."""
    runtime = CU118_RUNTIME[minor(profile.packages["torch"])]
    result = {n: v for n, v in closure.items()
              if not (n.startswith("nvidia-") and n != "nvidia-ml-py")}
    for name in CUDA_PACKAGES:
        if name in profile.packages:
            result[name] = (profile.packages[name], "")
    result.update({name: (version, "") for name, version in runtime.items()})
    return {n: (v, "") for n, (v, _sha) in result.items()}  # a partly hashed lock is refused by pip


def render_lock(profile: Profile, closures: dict[str, dict], note: str) -> str:
    pythons = sorted(closures, key=_vt)
    names = sorted({n for c in closures.values() for n in c})
    lines = [f"# Lock for python_venv profile {profile.name}: every distribution the venv holds.",
             f"# Generated by `python -m provisioner.stack.locks {profile.name}`; do not edit by hand.",
             f"# Resolved for CPython {', '.join(pythons)} on Linux x86_64 (glibc >= 2.35).{note}"]
    for name in names:
        by_version: dict[str, list[str]] = {}
        hashes: dict[str, set[str]] = {}
        for py in pythons:
            if name in closures[py]:
                version, sha = closures[py][name]
                by_version.setdefault(version, []).append(py)
                if sha:
                    hashes.setdefault(version, set()).add(sha)
        for version, pys in by_version.items():
            marker = "" if pys == pythons else " ; " + " or ".join(f'python_version == "{p}"' for p in pys)
            entry = f"{name}=={version}{marker}"
            for sha in sorted(hashes.get(version, ())):
                entry += f" \\\n    --hash=sha256:{sha}"
            lines.append(entry)
    return "\n".join(lines) + "\n"


def write_lock(profile_name: str, pythons: list[str], find_links: list[str], stand_in_torch: bool) -> int:
    """Resolve a profile's closure for each Python minor and write its lock (1 when it does not check)."""
    profile = builtin_profiles()[profile_name]
    pythons = pythons or profile.python
    requirements = [f"{n}=={v}" for n, v in profile.packages.items()]
    indexes = [profile.torch_index_url] if profile.torch_index_url and not stand_in_torch else []
    if stand_in_torch:  # PyPI's build of the same torch version stands in for the cu118 index's
        requirements = [f"{n}=={Version(v).public}" if n in CUDA_PACKAGES else f"{n}=={v}"
                        for n, v in profile.packages.items()]
    closures = {}
    for py in pythons:
        closure = resolve(requirements, py, indexes, find_links, profile.resolve_constraints)
        closures[py] = stand_in(profile, closure) if stand_in_torch else closure
    note = ""
    if stand_in_torch:
        note = ("\n# torch/torchvision/torchaudio and the CUDA 11.8 runtime wheels are the cu118 index's"
                "\n# (provisioner/stack/locks.py CU118_RUNTIME); the rest was resolved against PyPI with"
                "\n# PyPI's build of the same torch version (--stand-in). No hashes: pip refuses a"
                "\n# partly hashed lock. Re-lock without --stand-in where the cu118 index is reachable.")
    text = render_lock(profile, closures, note)
    problems = check_lock(profile, text)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    target = LOCK_DIR / profile.lock
    target.write_text(text)
    print(f"wrote {target} ({len(parse_lock(text))} entries)")
    return 0


def fill_wheelhouse(profile_name: str, dest: Path, python: str, find_links: list[str]) -> int:
    """Download every wheel of a profile's lock for one Python minor into ``dest`` (reused when complete)."""
    profile = builtin_profiles().get(profile_name)
    if profile is None:
        raise UsageError(f"wheelhouse: no profile {profile_name!r}; allowed: {', '.join(sorted(builtin_profiles()))}")
    lock = LOCK_DIR / profile.lock
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes() + python.encode()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        print(f"wheelhouse {dest} is complete for {lock.name} (Python {python}): nothing to do")
        return 0
    # Not isolated: the site's own pip configuration (mirror, CA, local wheel dirs) applies here.
    cmd = _pip("download", "--no-deps", "--dest", str(dest), "-r", str(lock), *_platform_args(python),
               isolated=False)
    if profile.require_hashes:
        cmd.append("--require-hashes")
    if profile.torch_index_url:
        cmd += ["--extra-index-url", profile.torch_index_url]
    for path in find_links:
        cmd += ["--find-links", path]
    if subprocess.run(cmd).returncode != 0:  # pip said why, above
        raise ProvisionerError(f"wheelhouse {dest}: pip could not download every wheel of {lock.name}")
    stamp.write_text(digest + "\n")
    print(f"wheelhouse {dest} filled for {lock.name} (Python {python})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m provisioner.stack.locks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=sorted(builtin_profiles()))
    parser.add_argument("--python", action="append", help="CPython minor (repeatable); default: the profile's")
    parser.add_argument("--find-links", action="append", default=[], help="local wheel directory")
    parser.add_argument("--stand-in", action="store_true",
                        help="cu118 index unreachable: resolve with PyPI's torch of the same version")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return write_lock(args.profile, args.python, args.find_links, args.stand_in)


if __name__ == "__main__":
    sys.exit(main())
