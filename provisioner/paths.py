"""Where the project's playbooks live and where runs are recorded."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("AUTOGLM_PROVISION_HOME", Path(__file__).resolve().parent.parent))
PLAYBOOKS = PROJECT_ROOT / "playbooks"
ROLES = PROJECT_ROOT / "roles"
LIBRARY = PROJECT_ROOT / "library"
MODULE_UTILS = PROJECT_ROOT / "module_utils"


def state_dir() -> Path:
    """``$AUTOGLM_PROVISION_STATE`` or the XDG state dir (``~/.local/state/autoglm-provision``)."""
    if explicit := os.environ.get("AUTOGLM_PROVISION_STATE"):
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "autoglm-provision"


def runs_dir() -> Path:
    return state_dir() / "runs"
