"""The package's shape: layers that import only downward, no module over 400 lines and no function
over 60 (the package, autoglm_smoke/ and the collection's Python), no import-time side effect (the
collection loader is installed on first use), nothing loaded by file path. The layers, top to bottom
(a module may import its own layer's modules and any below):

  cli        argparse and exit codes
  actions    the use cases, one small function each: validate, run (plan, then execute), report,
             wheelhouse; status and init (local_commands)
  run        run/: execute (a RunPlan run), runner (takes an event sink), events (the run's event
             stream), scratch dirs, interrupts, preflight (the --probe-strict pre-flight)
  plan       plan/: everything decided before a host is contacted, made into one RunPlan (validation,
             options, extra vars, foreign vars, host selection, safety, guards, dependency checks;
             it reads the run to retry and warns of a killed run's leftovers); rules/
  views      console (live view, summaries), HTML, the reachability table: they render, they decide nothing
  results    report, facts (the role-fact contract), smoke (results and the fleet judgement), state
  reachability  reachability/ (its vocabulary: categories, a host's result, the reading of Ansible's
             messages), read by the report and the pre-flight
  state      state/: the state directory's safety, atomic records, the run directories and a killed
             run's processes: below the plan, which makes a run's directory and names its leftovers
  sources    inventory/ (as Ansible reads it), stack/ (python_venv profiles and locks)
  base       paths, errors, specs, settings

Every folder is one layer.

A name in LAYERS is a top-level module or package, or a dotted module inside one; the longest name
that matches decides a module's layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from provisioner import paths

PACKAGE = Path(paths.__file__).resolve().parent
LAYERS = [
    ("cli", {"cli"}),
    ("actions", {"actions", "local_commands"}),
    ("run", {"run"}),
    ("plan", {"plan", "rules"}),
    ("views", {"views"}),
    ("results", {"results"}),
    ("reachability", {"reachability"}),
    ("state", {"state"}),
    ("sources", {"inventory", "stack"}),
    ("base", {"paths", "errors", "specs", "settings", "__init__"}),
]
MAX_LINES = 400
MAX_FUNCTION_LINES = 60
# Functions allowed past MAX_FUNCTION_LINES, by "path relative to the repository:function name", each
# with why. None today.
LONG_FUNCTION_EXEMPTIONS: set[str] = set()
REPOSITORY = PACKAGE.parent


def _modules() -> dict[str, Path]:
    """Dotted name (relative to the package) -> file, without what ansible-playbook loads (package
    data, never imported by the package): the Ansible collection and the event callback."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ("collection", "event_callback"):
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _layer(module: str) -> int:
    """The layer of the longest name in LAYERS that is ``module`` or a package above it."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        name = ".".join(parts[:length])
        for index, (_, members) in enumerate(LAYERS):
            if name in members:
                return index
    raise AssertionError(f"provisioner.{module} is in no layer: add it to LAYERS in {__file__}")


def _imports(module: str, path: Path) -> set[str]:
    """The provisioner modules ``module`` imports (relative imports resolved), wherever the import is."""
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {a.name.removeprefix("provisioner.") for a in node.names if a.name.startswith("provisioner.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module == "provisioner" or (node.module or "").startswith("provisioner."):
                name = node.module.removeprefix("provisioner").lstrip(".")
            else:
                continue
            # `from . import x` and `from .pkg import mod` name modules; `from .mod import func` names the module.
            for alias in node.names:
                candidate = f"{name}.{alias.name}" if name else alias.name
                targets.add(candidate if candidate in MODULES else name)
    return {t for t in targets if t}


MODULES = _modules()


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module):
    mine = _layer(module)
    upward = sorted(f"provisioner.{t} ({LAYERS[_layer(t)][0]})" for t in _imports(module, MODULES[module])
                    if _layer(t) < mine)
    assert not upward, f"provisioner.{module} ({LAYERS[mine][0]}) imports upward: {upward}"


def test_no_import_cycle():
    graph = {m: {t for t in _imports(m, p) if t in MODULES and t != m and not m.startswith(t + ".")}
             for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, target]))
            if target not in state:
                visit(target, [*trail, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_layer_test_sees_arrows():
    """Guard the parser itself: arrows it must find."""
    assert "actions" in _imports("cli", MODULES["cli"])
    assert {"results.report", "results.facts"} <= _imports("views.console", MODULES["views.console"])
    assert "run.runner" in _imports("run.preflight", MODULES["run.preflight"])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"provisioner.{module}: {lines} lines (at most {MAX_LINES})"


def _capped_files() -> list[Path]:
    """Every Python file the line caps hold: the package (with the collection it ships and the event
    callback), the smoke program, and the collection's plugins wherever the collection lives."""
    files = {*PACKAGE.rglob("*.py"), *(REPOSITORY / "autoglm_smoke").rglob("*.py"),
             *(paths.COLLECTION / "plugins").rglob("*.py")}
    return sorted(f.resolve() for f in files)


def _long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of each function longer than ``limit``, counted from `def` to the last line of
    its body (decorators not counted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > limit]


def _shown(path: Path) -> str:
    return str(path.relative_to(REPOSITORY)) if path.is_relative_to(REPOSITORY) else str(path)


def test_no_python_file_over_400_lines():
    """The module cap beyond the package's layers: the smoke program and the collection's Python."""
    over = [f"{_shown(f)}: {n} lines" for f in _capped_files()
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_no_function_over_60_lines():
    over = [f"{_shown(f)}:{name} ({n} lines)" for f in _capped_files() for name, n in _long_functions(f)
            if f"{_shown(f)}:{name}" not in LONG_FUNCTION_EXEMPTIONS]
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split them): {over}"


def test_the_function_cap_sees_long_functions(tmp_path):
    """Guard the counter: a 61-line function is found, a 60-line one is not, and the caps read the collection."""
    body = "".join(f"    x{i} = {i}\n" for i in range(59))
    (tmp_path / "m.py").write_text(f"def fits():\n{body}\n\nclass C:\n    def over(self):\n"
                                   + body.replace("    ", "        ") + "        return 1\n")
    assert _long_functions(tmp_path / "m.py") == [("over", 61)]
    assert any(f.name == "preflight_assess.py" for f in _capped_files())
    assert all(entry.split(":")[0] and (REPOSITORY / entry.split(":")[0]).is_file()
               for entry in LONG_FUNCTION_EXEMPTIONS)


def test_each_action_is_one_small_function():
    """kolla-ansible's thin CLI: the run is planned (plan/) and executed (run/); actions only join them."""
    source = MODULES["actions"].read_text(encoding="utf-8")
    assert _long_functions(MODULES["actions"], limit=25) == [], "an action over 25 lines"
    assert "ansible_runner" not in source


def test_cli_only_parses():
    assert len(MODULES["cli"].read_text(encoding="utf-8").splitlines()) <= 250


def test_nothing_is_loaded_by_file_path():
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        for needle in ("spec_from_file_location", "SourceFileLoader", "exec_module", "runpy"):
            assert needle not in text, f"provisioner.{module} loads code by file path ({needle})"


def test_the_runner_knows_no_view_and_no_report():
    assert not {t for t in _imports("run.runner", MODULES["run.runner"]) if t.startswith(("views", "results"))}


def test_importing_installs_no_collection_loader():
    """No import-time side effects: importing any module of the package (or the smoke program) leaves
    Ansible's collection loader uninstalled; the first use of the collection's Python installs it."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    names = ["provisioner" if m == "__init__" else f"provisioner.{m}" for m in MODULES]
    names += [f"autoglm_smoke.{p.stem}" for p in sorted((PACKAGE.parent / "autoglm_smoke").glob("*.py"))
              if p.stem not in ("__init__", "__main__")]
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n    importlib.import_module(name)\n"
            "from ansible.utils.collection_loader import AnsibleCollectionConfig\n"
            "print(AnsibleCollectionConfig.collection_finder)")
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120,
                          cwd=PACKAGE.parent, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None", "a module installs Ansible's collection loader when imported"


# The flat tests/unit/test_*.py files: the package root's modules (test_cli_conventions.py and the like
# test cli.py too) and the project-wide checks. A test of a subpackage's module goes in
# tests/unit/<subpackage>/test_<module>.py, as docs/development.md says.
PROJECT_WIDE_TESTS = {"packaging", "layers", "changelog", "bench_results", "molecule_files", "install_deps",
                      "doc_commands", "runbooks", "sample_inventory", "private_apis", "properties", "hostile_inputs",
                      "disk_full", "safety_scratch_records"}


def test_the_test_tree_mirrors_the_source_tree():
    tests = REPOSITORY / "tests" / "unit"
    root_modules = {name for name, path in MODULES.items() if "." not in name and path.name != "__init__.py"}
    stray = [p.name for p in sorted(tests.glob("test_*.py"))
             if p.stem.removeprefix("test_") not in PROJECT_WIDE_TESTS
             and not any(p.stem.removeprefix("test_").startswith(m) for m in root_modules)]
    assert not stray, f"move these to tests/unit/<subpackage>/: {stray}"
    subpackages = {name for name, path in MODULES.items() if path.name == "__init__.py" and name != "__init__"}
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name != "__pycache__"}
    mirrored = {"plan", "run", "reachability", "rules", "results", "state", "inventory", "stack", "views"}
    assert subpackages - mirrored == set() and mirrored <= folders
