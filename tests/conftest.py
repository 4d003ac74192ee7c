"""Shared test set-up: the project's podman settings and a state dir per test session."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))
