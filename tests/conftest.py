"""Shared test set-up: the project's podman settings and a state dir per test session."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))

# The collection's Python imports as Ansible loads it (ansible_collections.autoglm.provision...):
# Ansible's collection loader, installed before any test module imports from the collection, as the
# CLI installs it before its own checks import the roles' logic.
from provisioner import paths  # noqa: E402

paths.collection_imports()
