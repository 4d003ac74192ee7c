"""The wheel's one build step beyond setuptools' defaults: the collection autoglm.provision, whose one
source is the repository root (galaxy.yml, meta/, plugins/, roles/, playbooks/ ...), is copied into the
package as provisioner/collection/ansible_collections/autoglm/provision, where the installed CLI finds it
(provisioner/paths.py). Everything else is declared in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# What `ansible-galaxy collection build .` puts in the collection that the CLI needs at run time.
COLLECTION_CONTENT = ("galaxy.yml", "requirements.yml", "meta", "playbooks", "plugins", "roles")
PACKAGED_AT = Path("provisioner", "collection", "ansible_collections", "autoglm", "provision")
LEFT_OUT = ("__pycache__", ".pyc", ".tar.gz")


class BuildPyWithCollection(build_py):
    """setuptools' build_py, then the collection into the build tree. An editable install skips the
    copy: the checkout's root is the collection there."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).parent
        for name in COLLECTION_CONTENT:
            source = root / name
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                if any(part == LEFT_OUT[0] or part.endswith(LEFT_OUT[1:]) for part in path.parts):
                    continue
                target = Path(self.build_lib) / PACKAGED_AT / path.relative_to(root)
                self.mkpath(str(target.parent))
                self.copy_file(str(path), str(target))


setup(cmdclass={"build_py": BuildPyWithCollection})
