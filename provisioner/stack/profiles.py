"""Python venv stack: the python_venv role's profiles, their locks, and the compatibility matrix.

Used by the inventory rule (provisioner/rules/python_stack.py) and, as a command, to (re)generate
a profile's lock and to fill a wheelhouse for air-gapped sites:

    python -m provisioner.python_stack lock PROFILE [--python 3.9 --python 3.10 ...] [--stand-in]
    python -m provisioner.python_stack wheelhouse PROFILE DIR [--python 3.11]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import paths

ROLE_DIR = paths.ROLES / "python_venv"
LOCK_DIR = ROLE_DIR / "files" / "locks"
STACK_PACKAGES = ("torch", "torchvision", "torchaudio", "transformers", "accelerate", "datasets",
                  "sentencepiece", "nvidia-ml-py")
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


@dataclass
class Profile:
    name: str
    packages: dict[str, str]
    cuda: str = ""
    python: list[str] = field(default_factory=list)
    torch_index_url: str = ""
    lock: str = ""
    require_hashes: bool = False
    test_only: bool = False
    description: str = ""
    resolve_constraints: list[str] = field(default_factory=list)
    builtin: bool = True

    @classmethod
    def from_dict(cls, name: str, data: dict, builtin: bool = True) -> Profile:
        return cls(name=name, packages={str(k): str(v) for k, v in (data.get("packages") or {}).items()},
                   cuda=str(data.get("cuda") or ""), python=[str(p) for p in data.get("python") or []],
                   torch_index_url=str(data.get("torch_index_url") or ""), lock=str(data.get("lock") or ""),
                   require_hashes=bool(data.get("require_hashes")), test_only=bool(data.get("test_only")),
                   description=str(data.get("description") or "").strip(),
                   resolve_constraints=[str(c) for c in data.get("resolve_constraints") or []],
                   builtin=builtin)


@cache
def builtin_profiles() -> dict[str, Profile]:
    data = yaml.safe_load((ROLE_DIR / "vars" / "profiles.yml").read_text())["python_venv_builtin_profiles"]
    return {name: Profile.from_dict(name, body) for name, body in data.items()}


@cache
def matrix() -> dict:
    return yaml.safe_load((ROLE_DIR / "files" / "compatibility.yml").read_text())


@cache
def _lock_module():
    """The role's module: its lock parser is the one the targets use, so both read locks alike."""
    path = paths.COLLECTION / "plugins" / "modules" / "python_venv_lock.py"
    spec = importlib.util.spec_from_file_location("python_venv_lock", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_lock(text: str) -> list[dict]:
    return _lock_module().parse_lock(text)


def minor(version: str) -> str:
    """'2.7.1+cu118' -> '2.7'."""
    release = Version(version).release
    return f"{release[0]}.{release[1] if len(release) > 1 else 0}"


def _vt(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def _py_range(low: str, high: str) -> str:
    return f"{low}-{high}"


def check_profile(profile: Profile, cuda_version: str, require_cuda_build: bool,
                  expected_python: str = "") -> list[tuple[str, str]]:
    """Problems with one profile for a host: (message, allowed) pairs; empty when coherent."""
    problems: list[tuple[str, str]] = []
    m = matrix()
    low, high = m["python_range"]["min"], m["python_range"]["max"]
    pkgs = {canonicalize_name(k): v for k, v in profile.packages.items()}
    versions: dict[str, Version] = {}
    for name, text in pkgs.items():
        try:
            versions[name] = Version(text)
        except InvalidVersion:
            problems.append((f"package {name} version {text!r} is not a valid exact version",
                             "a PEP 440 version such as 2.7.1+cu118"))
    for name in STACK_PACKAGES:
        if name not in pkgs and not (profile.test_only and name in ("torchvision", "torchaudio")):
            problems.append((f"profile {profile.name} does not pin {name}",
                             "every profile pins " + ", ".join(STACK_PACKAGES)))
    if "torch" not in versions:
        return problems
    torch = versions["torch"]
    line = minor(str(torch))
    row = m["torch"].get(line)
    pythons = set(profile.python)
    if not pythons:
        problems.append((f"profile {profile.name} lists no Python versions", f"minors within {low}-{high}"))
    out_of_range = sorted(p for p in pythons if not _vt(low) <= _vt(p) <= _vt(high))
    if out_of_range:
        problems.append((f"profile {profile.name} is for Python {', '.join(out_of_range)}, outside the "
                         f"product's range", _py_range(low, high)))
    if expected_python and expected_python not in pythons:
        problems.append((f"the host's Python {expected_python} is not one profile {profile.name} was "
                         f"locked for ({', '.join(sorted(pythons, key=_vt))})",
                         "a profile locked for " + expected_python))
    if row is None:
        problems.append((f"torch {torch} (line {line}) is not in the compatibility matrix",
                         "torch lines " + ", ".join(m["torch"])))
        return problems
    build = torch.local or ""
    build_cuda = f"{build[2:-1]}.{build[-1]}" if build.startswith("cu") and len(build) > 3 else ""
    if build_cuda != profile.cuda:
        problems.append((f"torch {torch} is a {'CPU' if not build_cuda else 'CUDA ' + build_cuda} build but "
                         f"the profile declares cuda {profile.cuda!r}", "the same CUDA version in both"))
    if require_cuda_build:
        if not profile.cuda:
            problems.append((f"profile {profile.name} installs a CPU build of torch (test only), but "
                             f"python_venv_require_cuda_build is true",
                             f"a CUDA {cuda_version} profile, or python_venv_require_cuda_build: false in tests"))
        elif profile.cuda != cuda_version:
            problems.append((f"profile {profile.name} is built for CUDA {profile.cuda} but the host "
                             f"gets CUDA {cuda_version}", f"a CUDA {cuda_version} profile"))
        if cuda_version not in row["cuda"]:
            problems.append((f"torch {line} has no CUDA {cuda_version} build (its builds: "
                             f"{', '.join(row['cuda'])})",
                             "torch lines with a CUDA " + cuda_version + " build: "
                             + ", ".join(k for k, r in m["torch"].items() if cuda_version in r["cuda"])))
    torch_pythons = set(row["python"])
    missing = sorted(pythons - torch_pythons, key=_vt)
    if missing:
        problems.append((f"torch {line} has no wheels for Python {', '.join(missing)}",
                         "Python " + ", ".join(row["python"])))
    for companion in ("torchvision", "torchaudio"):
        if companion in versions and minor(str(versions[companion])) != row[companion]:
            problems.append((f"{companion} {versions[companion]} does not belong to torch {line}",
                             f"{companion} {row[companion]}.x"))
        if companion in versions and (versions[companion].local or "") != build:
            problems.append((f"{companion} {versions[companion]} and torch {torch} are different builds",
                             f"{companion} built for +{build}" if build else "the same build as torch"))
    if "transformers" in versions:
        problems += _check_transformers(versions["transformers"], torch, pythons)
    if "accelerate" in versions:
        for rule in m["accelerate"]:
            if versions["accelerate"] >= Version(rule["since"]):
                if torch.release < _vt(rule["min_torch"]):
                    problems.append((f"accelerate {versions['accelerate']} needs torch >= {rule['min_torch']}, "
                                     f"the profile has {torch}", f"accelerate below {rule['since']}"))
                break
    return problems


def _check_transformers(transformers: Version, torch: Version, pythons: set[str]) -> list[tuple[str, str]]:
    m = matrix()
    problems = []
    line = minor(str(torch))
    paired = m["guide_pairs"].get(line)
    if paired and minor(str(transformers)) != paired:
        problems.append((f"torch {torch} with transformers {transformers} is not the guide's pair "
                         f"(mismatched pairs fail at runtime, e.g. cudaErrorIllegalAddress)",
                         f"transformers {paired}.x with torch {line}"))
    for rule in m["transformers"]:
        if transformers >= Version(rule["since"]):
            if torch.release < _vt(rule["min_torch"]):
                problems.append((f"transformers {transformers} needs torch >= {rule['min_torch']}, the profile "
                                 f"has {torch}", f"torch >= {rule['min_torch']} or transformers below "
                                 f"{rule['since']}"))
            too_old = sorted((p for p in pythons if _vt(p) < _vt(rule["python_min"])), key=_vt)
            if too_old:
                problems.append((f"transformers {transformers} needs Python >= {rule['python_min']}, the profile "
                                 f"lists {', '.join(too_old)}", f"Python >= {rule['python_min']}"))
            break
    return problems


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


# ---------------------------------------------------------------- lock and wheelhouse commands


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
             f"# Generated by `python -m provisioner.python_stack lock {profile.name}`; do not edit by hand.",
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


def lock_command(args: argparse.Namespace) -> int:
    profile = builtin_profiles()[args.profile]
    pythons = args.python or profile.python
    requirements = [f"{n}=={v}" for n, v in profile.packages.items()]
    indexes = [profile.torch_index_url] if profile.torch_index_url and not args.stand_in else []
    if args.stand_in:  # PyPI's build of the same torch version stands in for the cu118 index's
        requirements = [f"{n}=={Version(v).public}" if n in CUDA_PACKAGES else f"{n}=={v}"
                        for n, v in profile.packages.items()]
    closures = {}
    for py in pythons:
        closure = resolve(requirements, py, indexes, args.find_links, profile.resolve_constraints)
        closures[py] = stand_in(profile, closure) if args.stand_in else closure
    note = ""
    if args.stand_in:
        note = ("\n# torch/torchvision/torchaudio and the CUDA 11.8 runtime wheels are the cu118 index's"
                "\n# (provisioner/python_stack.py CU118_RUNTIME); the rest was resolved against PyPI with"
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


def wheelhouse_command(args: argparse.Namespace) -> int:
    """Download every wheel of a profile's lock for one Python minor into DIR (reused when complete)."""
    profile = builtin_profiles()[args.profile]
    lock = LOCK_DIR / profile.lock
    dest = Path(args.dir)
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes() + args.python.encode()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        print(f"wheelhouse {dest} is complete for {lock.name} (Python {args.python}): nothing to do")
        return 0
    # Not isolated: the site's own pip configuration (mirror, CA, local wheel dirs) applies here.
    cmd = _pip("download", "--no-deps", "--dest", str(dest), "-r", str(lock),
               *_platform_args(args.python), isolated=False)
    if profile.require_hashes:
        cmd.append("--require-hashes")
    if profile.torch_index_url:
        cmd += ["--extra-index-url", profile.torch_index_url]
    for path in args.find_links:
        cmd += ["--find-links", path]
    subprocess.run(cmd, check=True)
    stamp.write_text(digest + "\n")
    print(f"wheelhouse {dest} filled for {lock.name} (Python {args.python})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioner.python_stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="resolve a profile's closure and write its lock file")
    lock.add_argument("profile", choices=sorted(builtin_profiles()))
    lock.add_argument("--python", action="append", help="CPython minor (repeatable); default: the profile's")
    lock.add_argument("--find-links", action="append", default=[], help="local wheel directory")
    lock.add_argument("--stand-in", action="store_true",
                      help="cu118 index unreachable: resolve with PyPI's torch of the same version")
    house = sub.add_parser("wheelhouse", help="download a profile's locked wheels into a directory")
    house.add_argument("profile", choices=sorted(builtin_profiles()))
    house.add_argument("dir")
    house.add_argument("--python", default="3.10", help="CPython minor of the targets (default 3.10)")
    house.add_argument("--find-links", action="append", default=[], help="local wheel directory")
    args = parser.parse_args(argv)
    return lock_command(args) if args.command == "lock" else wheelhouse_command(args)


if __name__ == "__main__":
    sys.exit(main())
