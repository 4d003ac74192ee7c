"""python_venv: the chosen profile against the compatibility matrix (Python / torch / CUDA /
transformers), its lock, and the host's CUDA version, so an impossible stack fails validation
instead of a half-installed venv. The matrix and profiles live in roles/python_venv/.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from provisioner.rules import Finding, is_templated
from provisioner.stack import locks
from provisioner.stack import profiles as stack_profiles

PROFILE_KEYS = {"description", "cuda", "python", "torch_index_url", "lock", "require_hashes", "test_only",
                "packages", "resolve_constraints"}


def _bool(value: object, default: bool) -> bool:
    if value is None or is_templated(value):
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _cuda_version(hostvars: dict) -> str:
    value = hostvars.get("python_venv_cuda_version")
    if value is None or is_templated(value):  # the role's default follows cuda_version
        value = hostvars.get("cuda_version", "11.8")
    return "" if is_templated(value) else str(value)


def check(host: str, hostvars: dict) -> Iterable[Finding]:
    findings: list[Finding] = []
    name = hostvars.get("python_venv_profile", "cu118-torch2.7")
    extra = hostvars.get("python_venv_extra_profiles") or {}
    if is_templated(name) or is_templated(extra):
        return findings
    name = str(name)
    builtins = stack_profiles.builtin_profiles()
    profiles = dict(builtins)
    if not isinstance(extra, dict):
        return [Finding(host, "python_venv_extra_profiles", extra, "is not a mapping of profile names",
                        "a mapping: name -> {packages, cuda, python, lock, ...}")]
    for extra_name, body in extra.items():
        var = f"python_venv_extra_profiles.{extra_name}"
        if extra_name in builtins:
            findings.append(Finding(host, var, extra_name, "reuses the name of a built-in profile",
                                    "a new name (built-in: " + ", ".join(builtins) + ")"))
            continue
        if not isinstance(body, dict) or not body.get("packages") or not body.get("lock"):
            findings.append(Finding(host, var, body, "is not a profile: it needs packages and lock",
                                    "keys " + ", ".join(sorted(PROFILE_KEYS))))
            continue
        unknown = sorted(set(body) - PROFILE_KEYS)
        if unknown:
            findings.append(Finding(host, var, unknown, "has unknown keys", ", ".join(sorted(PROFILE_KEYS))))
        profiles[str(extra_name)] = stack_profiles.Profile.from_dict(str(extra_name), body, builtin=False)

    if name not in profiles:
        findings.append(Finding(host, "python_venv_profile", name, "is not a known profile",
                                ", ".join(sorted(profiles))))
        return findings
    profile = profiles[name]
    cuda = _cuda_version(hostvars)
    require_cuda = _bool(hostvars.get("python_venv_require_cuda_build"), True)
    expected_python = hostvars.get("python_venv_python_version") or ""
    expected_python = "" if is_templated(expected_python) else str(expected_python)
    variable = "python_venv_profile" if profile.builtin else f"python_venv_extra_profiles.{name}"
    for message, allowed in stack_profiles.check_profile(profile, cuda, require_cuda, expected_python):
        findings.append(Finding(host, variable, name, message, allowed))

    # Built-in locks live in the role; a site profile's lock is a path on the controller.
    lock = locks.LOCK_DIR / profile.lock if profile.builtin else Path(profile.lock)
    if profile.builtin or lock.is_absolute():
        problems = (locks.check_lock(profile, lock.read_text()) if lock.is_file()
                    else [f"lock file {lock} is missing"])
        for problem in problems:
            findings.append(Finding(host, variable, name, problem,
                                    f"a lock that pins the profile: python -m provisioner.stack.locks {name}"
                                    if profile.builtin else "an absolute controller path to the profile's lock"))
    else:
        findings.append(Finding(host, variable, profile.lock, "lock is not an absolute path on the controller",
                                "an absolute path, e.g. /srv/autoglm/locks/site.txt"))
    return findings
