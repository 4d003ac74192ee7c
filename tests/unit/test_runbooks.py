"""docs/runbooks: every command in a ```sh block is a real command of the product.

Per command line of every ```sh block:
- `autoglm-provision ...` is parsed by the CLI's own parser (after the CLI's argv normalisation),
  so a flag or choice that does not exist fails here; each `-e` is parsed like the CLI does and
  every variable must be a real role variable (meta/argument_specs.yml) with an allowed value; the
  command's `-e` set is then validated with the sample inventory, semantic rules included;
  `--tags` must name tags of the action's playbook;
- commands that change hosts (`site` without `--check`) must be marked `# DESTRUCTIVE` on the line
  before; read-only ones must not be;
- the non-destructive ones that contact no host (`validate`, `report`, `status`) really run, in a
  scratch directory where `inventory/mysite/` is a copy of inventory/sample/ and the state
  directory holds the run of tests/fixtures/signoff_run.py (`$RUN` is its id);
- `autoglm-provision wheelhouse ...` runs through the CLI with the download replaced by a recorder
  (it needs the network);
- anything else must be one of a few named shell tools.
Every ```yaml block headed `# inventory/mysite/...` is written into such a copy and validated.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from provisioner import cli, specs
from provisioner.errors import Problem
from provisioner.plan import runplan
from provisioner.plan.validate import parse_extra_vars, validate
from provisioner.stack import locks
from tests.fixtures.signoff_run import RUN_ID, build_run

REPO = Path(__file__).resolve().parents[2]

RUNBOOK_DIR = REPO / "docs" / "runbooks"
RUNBOOKS = sorted(p for p in RUNBOOK_DIR.glob("*.md") if p.name != "README.md")
EXPECTED = {"new-rack-bring-up.md", "driver-cuda-upgrade.md", "smoke-triage.md", "bios-remediation.md",
            "air-gapped-site.md"}
CLI_NAMES = {"autoglm-provision", ".venv/bin/autoglm-provision"}
PYTHONS = {"python3", "python", ".venv/bin/python"}
SHELL_TOOLS = {"cp", "mkdir", "export", "read", "ls"}  # plain file handling around the product's commands
SAMPLE = REPO / "inventory" / "sample"
READ_ONLY = {"validate", "report", "status"}  # contact no host: run for real in the test
MARK = "# DESTRUCTIVE"
OPERATORS = {"|", "||", "&&", ";", "&"}
REDIRECTS = {">", ">>", "<"}


@dataclass
class Command:
    file: str
    line: int
    words: list[str]
    marked: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {shlex.join(self.words)}"


def _blocks(path: Path, lang: str) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)]


def _split(line: str) -> list[list[str]]:
    """A shell line as simple commands: split at | && || ; and without redirections."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    commands, current, skip_next = [], [], False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in OPERATORS:
            commands.append(current)
            current = []
        elif token in REDIRECTS:
            skip_next = True
        else:
            current.append(token)
    commands.append(current)
    return [c for c in commands if c]


def commands_of(path: Path) -> list[Command]:
    out = []
    for start, block in _blocks(path, "sh"):
        marked, pending, first = False, "", start
        for offset, raw in enumerate(block.splitlines()):
            line = raw.strip()
            if not pending:
                first = start + offset
            if not line and not pending:
                marked = False
                continue
            if line.startswith("#") and not pending:
                marked = marked or line.startswith(MARK)
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            for words in _split(pending + line):
                while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):  # VAR=value cmd
                    words = words[1:]
                if words:
                    out.append(Command(path.name, first, words, marked))
            pending, marked = "", False
    return out


ALL = [c for p in RUNBOOKS for c in commands_of(p)]
PRODUCT = [c for c in ALL if c.words[0] in CLI_NAMES]


def test_the_runbooks_exist_and_use_the_product():
    assert {p.name for p in RUNBOOKS} == EXPECTED
    for path in RUNBOOKS:
        assert [c for c in PRODUCT if c.file == path.name], f"{path.name}: no autoglm-provision command"
    assert (RUNBOOK_DIR / "README.md").is_file()


def test_commands_are_known():
    for command in ALL:
        name = command.words[0]
        if name in CLI_NAMES:
            continue
        if name in PYTHONS and command.words[1:3] == ["-m", "provisioner.stack.locks"]:
            continue
        if name in PYTHONS and command.words[1:3] == ["-m", "json.tool"]:
            continue
        if name.startswith("scripts/"):
            assert (REPO / name).is_file() and (REPO / name).stat().st_mode & 0o111, str(command)
            continue
        assert name in SHELL_TOOLS, f"{command}: not a command of the product (or a listed shell tool)"


def _parse(command: Command):
    argv = cli._normalise_argv(command.words[1:])
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return cli.build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{command}\n  does not parse: {stderr.getvalue().strip()}")


def _playbook_tags(action: str) -> set[str]:
    tags = {"always", "never"}

    def walk(node):
        if isinstance(node, dict):
            value = node.get("tags")
            tags.update([value] if isinstance(value, str) else value or [])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(yaml.safe_load(runplan.action_playbook(action).read_text()))
    return tags


def _option_strings(action: str) -> set[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[action]
    return {s for a in sub._actions for s in a.option_strings}


@pytest.mark.parametrize("command", PRODUCT, ids=str)
def test_cli_command_parses_with_real_variables(command):
    args = _parse(command)
    assert args.command, f"{command}: no command"
    # argparse accepts abbreviations (--htm for --html); a runbook spells flags out.
    flags = {w.split("=", 1)[0] for w in command.words[1:] if w.startswith("--")}
    unknown_flags = flags - _option_strings(args.command)
    assert not unknown_flags, f"{command}: not a full flag name: {unknown_flags}"
    problems: list[Problem] = []
    extra = parse_extra_vars(getattr(args, "extra_vars", []) or [], problems)
    assert not problems, f"{command}: {[p.render() for p in problems]}"
    known = specs.load_specs()
    for name, definition in extra.items():
        assert name in known, f"{command}: -e {name} is not a variable of any role (meta/argument_specs.yml)"
        assert specs.check_value(known[name], definition.value) is None, (
            f"{command}: -e {name}={definition.value!r}: {specs.check_value(known[name], definition.value)}")
    if extra:
        result = validate(SAMPLE / "hosts.yml", getattr(args, "extra_vars", []))
        assert not result.errors, f"{command}: {[p.render() for p in result.errors]}"
    if getattr(args, "tags", None):
        unknown = set(args.tags.split(",")) - _playbook_tags(args.command)
        assert not unknown, f"{command}: no such tag in playbooks/{runplan.ACTION_PLAYBOOKS[args.command]}: {unknown}"
    destructive = args.command == "site" and not args.check
    if destructive:
        assert command.marked, f"{command}: changes hosts but is not marked {MARK!r} on the line before"
    elif args.command in READ_ONLY or args.command == "check" or getattr(args, "check", False):
        assert not command.marked, f"{command}: marked {MARK!r} but changes nothing"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A working directory with inventory/mysite (the sample) and a state dir holding one run."""
    shutil.copytree(SAMPLE, tmp_path / "inventory" / "mysite")
    state = tmp_path / "state"
    build_run(state / "runs")
    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(state))
    monkeypatch.chdir(tmp_path)
    return tmp_path


READ_ONLY_COMMANDS = [c for c in PRODUCT if cli._normalise_argv(c.words[1:])[0] in READ_ONLY]


def test_some_commands_run():
    assert {cli._normalise_argv(c.words[1:])[0] for c in READ_ONLY_COMMANDS} == READ_ONLY


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=str)
def test_read_only_command_runs(command, scratch, capsys):
    argv = [RUN_ID if word == "$RUN" else word for word in command.words[1:]]
    assert not [w for w in argv if "$" in w], f"{command}: only $RUN is substituted in runnable commands"
    code = cli.main(argv)
    out = capsys.readouterr()
    action = cli._normalise_argv(argv)[0]
    expected = 1 if action == "report" else 0  # report exits with the run's code: the fixture run failed
    assert code == expected, f"{command}: exit {code}\n{out.out[-3000:]}\n{out.err[-3000:]}"
    args = cli.build_parser().parse_args(cli._normalise_argv(argv))
    if action == "report" and args.html is not None:
        written = Path(args.html) if args.html else scratch / "state" / "runs" / RUN_ID / "report.html"
        if written.is_dir():
            written = written / "report.html"
        assert written.is_file() and "Not ready for sign-off" in written.read_text()


WHEELHOUSE = [c for c in PRODUCT if cli._normalise_argv(c.words[1:])[0] == "wheelhouse"]


@pytest.mark.parametrize("command", WHEELHOUSE, ids=str)
def test_wheelhouse_command_parses(command, monkeypatch):
    seen = []
    monkeypatch.setattr(locks, "fill_wheelhouse", lambda *args: seen.append(args) or 0)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            assert cli.main(command.words[1:]) == 0
    except SystemExit:
        pytest.fail(f"{command}\n  does not parse: {stderr.getvalue().strip()}")
    assert len(seen) == 1


YAML_BLOCKS = [(p.name, line, block) for p in RUNBOOKS for line, block in _blocks(p, "yaml")
               if block.startswith("# inventory/mysite/")]


def test_yaml_blocks_are_checked():
    assert YAML_BLOCKS


@pytest.mark.parametrize("name,line,block", YAML_BLOCKS, ids=[f"{n}:{ln}" for n, ln, _ in YAML_BLOCKS])
def test_inventory_snippet_validates(name, line, block, tmp_path):
    target = block.splitlines()[0].removeprefix("# ").split()[0]
    inventory = tmp_path / "inventory" / "mysite"
    shutil.copytree(SAMPLE, inventory)
    path = tmp_path / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block, encoding="utf-8")
    data = yaml.safe_load(block) or {}
    known = specs.load_specs()
    if path.name != "hosts.yml":
        for key in data:
            assert key in known or key.startswith("ansible_"), f"{name}:{line}: {key} is not a role variable"
    # Files the snippet points to (a CA file, a wheelhouse) exist on a real controller, not here.
    result = validate(inventory / "hosts.yml")
    errors = [p.render() for p in result.errors]
    assert not errors, f"{name}:{line}: {errors}"
