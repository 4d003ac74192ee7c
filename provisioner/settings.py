"""Runner settings as ``ANSIBLE_*`` environment variables, tuned for fleets.

A variable already set in the caller's environment wins, so a site can override any default
without a flag (``ANSIBLE_FORKS=200 autoglm-provision ...``).
"""

from __future__ import annotations

import os

from . import paths

FORKS_PER_CPU = 20
FORKS_CAP = 200
# A master lives while a task uses it and this long idle after: long enough to reuse the
# connection across a play's tasks, short enough that a master orphaned by a killed CLI (kill -9)
# is gone within two minutes even if no later run sweeps it (provisioner.run.scratch).
CONTROL_PERSIST = "120s"


def forks_for(host_count: int, cpu_count: int | None = None) -> int:
    """One fork per host up to a CPU-proportional cap: small inventories run fully in parallel,
    large ones do not overrun the controller."""
    cpus = cpu_count or os.cpu_count() or 1
    return max(1, min(host_count, FORKS_PER_CPU * cpus, FORKS_CAP))


def runner_env(host_count: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ) if environ is None else environ
    tuned = {
        "ANSIBLE_FORKS": str(forks_for(host_count)),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": (f"-o ControlMaster=auto -o ControlPersist={CONTROL_PERSIST} "
                             "-o ServerAliveInterval=30 -o ServerAliveCountMax=4"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_TIMEOUT": "30",
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_INTERPRETER_PYTHON": "auto_silent",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH": "ignore",
    }
    env = {key: value for key, value in tuned.items() if key not in environ}
    # The one path setting: the package's collection first, then the caller's collections path.
    env["ANSIBLE_COLLECTIONS_PATH"] = paths.collections_path(environ)
    return env
