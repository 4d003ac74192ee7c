"""The python_venv role's profiles (its files/profiles.yml, a public data file) and the compatibility matrix they are
checked against (files/compatibility.yml), for the inventory rule (provisioner/rules/python_stack.py).
Their locks: :mod:`provisioner.stack.locks`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import paths

ROLE_DIR = paths.ROLES / "python_venv"
STACK_PACKAGES = ("torch", "torchvision", "torchaudio", "transformers", "accelerate", "datasets",
                  "sentencepiece", "nvidia-ml-py")
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
    data = yaml.safe_load((ROLE_DIR / "files" / "profiles.yml").read_text())
    return {name: Profile.from_dict(name, body) for name, body in data.items()}


@cache
def matrix() -> dict:
    return yaml.safe_load((ROLE_DIR / "files" / "compatibility.yml").read_text())


def minor(version: str) -> str:
    """'2.7.1+cu118' -> '2.7'."""
    release = Version(version).release
    return f"{release[0]}.{release[1] if len(release) > 1 else 0}"


def _vt(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def _py_range(low: str, high: str) -> str:
    return f"{low}-{high}"


def _pin_problems(profile: Profile) -> tuple[list[tuple[str, str]], dict[str, Version]]:
    """(problems, versions): each pin a valid exact version, every stack package pinned."""
    problems: list[tuple[str, str]] = []
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
    return problems, versions


def _python_problems(profile: Profile, expected_python: str) -> list[tuple[str, str]]:
    """The profile's Python minors: some, within the product's range, the host's among them."""
    low, high = matrix()["python_range"]["min"], matrix()["python_range"]["max"]
    pythons = set(profile.python)
    problems: list[tuple[str, str]] = []
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
    return problems


def _cuda_problems(profile: Profile, torch: Version, row: dict, cuda_version: str,
                   require_cuda_build: bool) -> list[tuple[str, str]]:
    """torch's build against the profile's declared CUDA and, when a CUDA build is required, the host's."""
    problems: list[tuple[str, str]] = []
    line = minor(str(torch))
    build = torch.local or ""
    build_cuda = f"{build[2:-1]}.{build[-1]}" if build.startswith("cu") and len(build) > 3 else ""
    if build_cuda != profile.cuda:
        problems.append((f"torch {torch} is a {'CPU' if not build_cuda else 'CUDA ' + build_cuda} build but "
                         f"the profile declares cuda {profile.cuda!r}", "the same CUDA version in both"))
    if not require_cuda_build:
        return problems
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
                         + ", ".join(k for k, r in matrix()["torch"].items() if cuda_version in r["cuda"])))
    return problems


def _torch_line_problems(versions: dict[str, Version], row: dict, pythons: set[str]) -> list[tuple[str, str]]:
    """What torch's line fixes: its Python wheels, its torchvision/torchaudio (line and build), the
    transformers and accelerate releases that run on it."""
    torch = versions["torch"]
    line, build = minor(str(torch)), torch.local or ""
    problems: list[tuple[str, str]] = []
    missing = sorted(pythons - set(row["python"]), key=_vt)
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
        for rule in matrix()["accelerate"]:
            if versions["accelerate"] >= Version(rule["since"]):
                if torch.release < _vt(rule["min_torch"]):
                    problems.append((f"accelerate {versions['accelerate']} needs torch >= {rule['min_torch']}, "
                                     f"the profile has {torch}", f"accelerate below {rule['since']}"))
                break
    return problems


def check_profile(profile: Profile, cuda_version: str, require_cuda_build: bool,
                  expected_python: str = "") -> list[tuple[str, str]]:
    """Problems with one profile for a host: (message, allowed) pairs; empty when coherent."""
    problems, versions = _pin_problems(profile)
    if "torch" not in versions:
        return problems
    torch = versions["torch"]
    line = minor(str(torch))
    row = matrix()["torch"].get(line)
    problems += _python_problems(profile, expected_python)
    if row is None:
        problems.append((f"torch {torch} (line {line}) is not in the compatibility matrix",
                         "torch lines " + ", ".join(matrix()["torch"])))
        return problems
    problems += _cuda_problems(profile, torch, row, cuda_version, require_cuda_build)
    return problems + _torch_line_problems(versions, row, set(profile.python))


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
