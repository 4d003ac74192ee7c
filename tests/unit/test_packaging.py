"""The collection inside the package: one version, custom code only under plugins/, every module
documented, filters as shims. (scripts/test-install builds and installs the wheel and sdist.)"""

import ast
import fnmatch
import os
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from provisioner import paths

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = paths.COLLECTION / "plugins"


def test_version_is_written_once_and_galaxy_yml_repeats_it():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert yaml.safe_load((paths.COLLECTION / "galaxy.yml").read_text())["version"] == version
    assert metadata.version("autoglm-provision") == version


def test_the_repository_root_is_the_collection_and_ansible_finds_it_through_one_link():
    """Issue #32 item 0: kubespray's layout. In a checkout (an editable install) the collection is the
    root, reached through .cache/collections (scripts/test-install checks the wheel's copy)."""
    assert paths.COLLECTION == ROOT and (ROOT / "galaxy.yml").is_file()
    assert paths.ensure_collections_path() == ROOT / ".cache" / "collections"
    link = paths.COLLECTIONS_PATH / "ansible_collections" / "autoglm" / "provision"
    assert link.is_symlink() and link.resolve() == ROOT and not Path(os.readlink(link)).is_absolute()
    assert {p.stem for p in paths.PLAYBOOKS.glob("*.yml")} >= {"site", "check", "smoke"}
    for old in ("library", "module_utils", "filter_plugins", "provisioner/collection"):
        assert not (ROOT / old).exists(), f"{old}/: content belongs in the collection's plugins/ at the root"


def test_a_moved_link_is_made_again(tmp_path, monkeypatch):
    """A dangling link (left by a checkout laid out otherwise) is replaced, not trusted."""
    monkeypatch.setattr(paths, "COLLECTIONS_PATH", tmp_path / "collections")
    link = tmp_path / "collections" / "ansible_collections" / "autoglm" / "provision"
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "gone")
    assert paths.ensure_collections_path() == tmp_path / "collections"
    assert link.resolve() == ROOT


def _collection_content() -> tuple[str, ...]:
    """setup.py's COLLECTION_CONTENT, read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    (value,) = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "") == "COLLECTION_CONTENT"]
    return ast.literal_eval(value)


def test_custom_code_lives_only_under_plugins():
    content = [ROOT / name for name in _collection_content()]
    stray = [p.relative_to(paths.COLLECTION) for top in content for p in [top, *top.rglob("*")]
             if p.is_dir() and p.name in ("library", "filter_plugins", "module_utils", "action_plugins")
             and PLUGINS not in p.parents]
    assert stray == []


@pytest.mark.parametrize("module", sorted(p.stem for p in (PLUGINS / "modules").glob("*.py")))
def test_every_module_is_documented_with_examples(module):
    tree = ast.parse((PLUGINS / "modules" / f"{module}.py").read_text())
    docs = {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES")}
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES"}
    assert yaml.safe_load(docs["DOCUMENTATION"])["module"] == module
    examples = yaml.safe_load(docs["EXAMPLES"])
    assert examples and all(f"autoglm.provision.{module}" in task for task in examples)


@pytest.mark.parametrize("shim", sorted(p.stem for p in (PLUGINS / "filter").glob("*.py")))
def test_filters_are_shims_over_plugin_utils(shim):
    tree = ast.parse((PLUGINS / "filter" / f"{shim}.py").read_text())
    imports = [n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module != "__future__"]
    assert imports == [f"ansible_collections.autoglm.provision.plugins.plugin_utils.{shim}"]
    assert [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))] == ["FilterModule"]


def _top_level_entries() -> set[str]:
    """The project's own top-level files and folders: git's list in a checkout (not a developer's
    scratch), the directory itself in an unpacked sdist."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        return {line.split("/")[0] for line in listed.stdout.splitlines()}
    return {p.name for p in ROOT.iterdir() if p.name not in (".venv", ".cache", "build", "dist", ".hypothesis")
            and not p.name.endswith(".egg-info") and not p.name.startswith((".pytest", ".ruff"))}


def test_the_wheel_build_carries_what_ansible_galaxy_builds():
    """setup.py copies the root's collection content into the wheel; galaxy.yml's build_ignore leaves
    everything else out of the tarball: each top-level entry is one or the other."""
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    patterns = galaxy["build_ignore"]
    tracked = _top_level_entries()
    shipped = {name for name in tracked if not any(fnmatch.fnmatch(name, p) for p in patterns)}
    shipped -= {"README.md", "LICENSE", "CHANGELOG.md", "docs"}
    assert shipped == set(_collection_content()) | {"changelogs"}, shipped
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    # The event callback ansible-playbook loads (provisioner.run.events): a file, not a module.
    assert "event_callback/*.py" in config["package-data"]["provisioner"]
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_execution_environment_python_is_the_base_images_venv():
    """ansible-builder's ensurepip step fails on Debian's system Python: the EE's Python is the venv
    ee/base.Containerfile makes (scripts/test-ee builds and runs the image; opt-in)."""
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    base = (ROOT / "ee" / "base.Containerfile").read_text()
    python = ee["dependencies"]["python_interpreter"]["python_path"]
    venv = python.rsplit("/bin/", 1)[0]
    assert ee["version"] == 3 and f"python3 -m venv {venv}" in base and f"PATH={venv}/bin:" in base
    assert ee["images"]["base_image"]["name"] == "localhost/autoglm-ee-base:latest"
    assert ee["options"]["package_manager_path"] == "/usr/bin/apt-get"


def test_every_python_m_module_the_docs_name_exists():
    """``python -m provisioner.replay`` stayed in docs/awx.md while it could not run a real run
    (issue #28 item 8); a module named in README.md or docs/ must at least exist."""
    import re

    named = {m for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
             for m in re.findall(r"python3? -m ((?:provisioner|autoglm_smoke)[\w.]*)", doc.read_text())}
    assert "provisioner.stack.locks" in named  # the scan finds what the docs name
    # The files of this checkout (an editable install elsewhere may still resolve a removed module).
    missing = [m for m in sorted(named) if not ((ROOT / m.replace(".", "/")).with_suffix(".py").is_file()
                                               or (ROOT / m.replace(".", "/") / "__main__.py").is_file())]
    assert not missing, missing


# The `python -m` entries docs/development.md ("Entry points") keeps, each with its reason; users get
# `autoglm-provision <command>`.
KEPT_PYTHON_M = {"autoglm_smoke", "autoglm_smoke.build", "autoglm_smoke.verdicts", "provisioner.stack.locks",
                 "provisioner.cli", "provisioner.state.orphans"}


def test_docs_name_no_python_m_entry_beyond_the_kept_ones():
    """One entry style (issue #32 item 7): a new user-facing command is an autoglm-provision subcommand,
    not another `python -m`; the kept ones are listed, with why, in docs/development.md."""
    import re

    development = (ROOT / "docs" / "development.md").read_text()
    named = {m for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
             for m in re.findall(r"python3? -m ((?:provisioner|autoglm_smoke)[\w.]*)", doc.read_text())}
    assert named - KEPT_PYTHON_M == set(), "use or add an autoglm-provision subcommand instead"
    assert all(f"`python -m {m}" in development for m in KEPT_PYTHON_M), "docs/development.md says why each stays"


def test_galaxy_yml_names_the_repository_documentation_and_issues_as_pyproject_does():
    """Issue #28 item 10: galaxy.yml's links (placeholders on example.invalid until the project has a
    public address) equal the Python package's [project.urls]."""
    galaxy = yaml.safe_load((paths.COLLECTION / "galaxy.yml").read_text())
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    for key, label in (("repository", "Repository"), ("documentation", "Documentation"), ("issues", "Issues"),
                       ("homepage", "Homepage")):
        assert galaxy.get(key, "").startswith("https://"), f"galaxy.yml {key}: {galaxy.get(key)!r}"
        assert galaxy[key] == urls[label], key


def _requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def test_the_collections_ee_requirements_pin_as_pyproject_does():
    """Issue #28 item 6: ansible-builder learns the collection's controller-side Python requirements
    from meta/execution-environment.yml; each is pinned as the Python package pins it, and the smoke
    build's error message names the same nvidia-ml-py pin."""
    from autoglm_smoke import build  # noqa: PLC0415

    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    requirements = _requirement_lines(ROOT / meta["dependencies"]["python"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = [*project["dependencies"], *project["optional-dependencies"]["bmc"]]
    assert meta["version"] == 1 and requirements, requirements
    assert [r for r in requirements if r not in pinned] == [], pinned
    assert build.NVML_PIN in requirements and build.NVML_PIN in project["dependencies"]


def test_no_collection_or_smoke_code_imports_provisioner():
    """The collection stands alone (issue #28 item 6): neither its plugins nor the smoke program it
    carries import the CLI's package, so no loop runs collection -> provisioner -> collection."""
    sources = [*sorted((ROOT / "plugins").rglob("*.py")), *sorted((ROOT / "autoglm_smoke").glob("*.py"))]
    importers = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            importers += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "provisioner"]
    assert len(sources) > 40 and importers == [], importers
