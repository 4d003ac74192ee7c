"""The package's shape: layers that import only downward, no module over 400 lines, nothing loaded
by file path. The layers, top to bottom (a module may import its own layer's modules and any below):

  cli        argparse and exit codes
  actions    the use cases, one small function each: validate, run (plan, then execute), report,
             wheelhouse; status and init (local_commands)
  run        run/: execute (a RunPlan run), runner (takes an event sink), events (the run's event
             stream), scratch dirs, interrupts; reachability/preflight (the --probe-strict pre-flight)
  plan       plan/: everything decided before a host is contacted, made into one RunPlan (validation,
             options, extra vars, foreign vars, host selection, safety, guards, dependency checks;
             it reads the run to retry and warns of a killed run's leftovers); rules/
  views      console (live view, summaries), HTML, the reachability table: they render, they decide nothing
  results    report, facts (the role-fact contract), smoke (results and the fleet judgement), state
  reachability  reachability/ (its vocabulary: categories, a host's result, the reading of Ansible's
             messages), read by the report and the pre-flight
  run dirs   run/rundir (the run directories) and run/orphans (a killed run's processes): below
             the plan, which makes a run's directory and names its leftovers
  sources    inventory/ (as Ansible reads it), stack/ (python_venv profiles and locks)
  base       paths, errors, records, specs, settings, statedir

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
    ("run", {"run", "reachability.preflight"}),
    ("plan", {"plan", "rules"}),
    ("views", {"views"}),
    ("results", {"results"}),
    ("reachability", {"reachability"}),
    ("run dirs", {"run.rundir", "run.orphans"}),
    ("sources", {"inventory", "stack"}),
    ("base", {"paths", "errors", "records", "specs", "settings", "statedir", "__init__"}),
]
MAX_LINES = 400


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
    assert "run.runner" in _imports("reachability.preflight", MODULES["reachability.preflight"])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"provisioner.{module}: {lines} lines (at most {MAX_LINES})"


def test_cli_only_parses():
    assert len(MODULES["cli"].read_text(encoding="utf-8").splitlines()) <= 250


def test_nothing_is_loaded_by_file_path():
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        for needle in ("spec_from_file_location", "SourceFileLoader", "exec_module", "runpy"):
            assert needle not in text, f"provisioner.{module} loads code by file path ({needle})"


def test_the_runner_knows_no_view_and_no_report():
    assert not {t for t in _imports("run.runner", MODULES["run.runner"]) if t.startswith(("views", "results"))}
