"""The commands README.md and docs/**/*.md tell a user to type (issue #28 item 7).

Every command line of a fenced shell block (```sh, ```bash, ```shell; in ```console only the lines
after a `$ ` prompt) is either run verbatim by a test, named in RUN_BY, or exempted, with the reason
it cannot run in the test suite, in tests/fixtures/doc_commands_exempt.txt.
tests/unit/test_doc_commands.py holds every command to that; a test that runs one takes its text
out of the doc with `find()`, so an edited command runs as edited.

A command is one logical line: `\\`-continued lines, a quoted string over several lines and a
here-document's body belong to it. Its `key` (what RUN_BY and the exemptions name) is that text
without the trailing `# comment`, lines joined by one space; `script` is the text as written.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SHELL_FENCES = {"sh", "bash", "shell", "zsh"}
CONSOLE_FENCES = {"console", "shell-session"}
EXEMPTIONS_FILE = REPO / "tests" / "fixtures" / "doc_commands_exempt.txt"

_INTEGRATION = "tests/integration/test_doc_commands.py"
_RUNBOOKS = "tests/unit/test_runbooks.py"
# command key -> the test that runs it verbatim (path::function).
RUN_BY: dict[str, str] = {
    # README.md: the CLI in a user's working directory (inventory/mysite, a state directory with one run)
    ".venv/bin/autoglm-provision validate inventory/mysite/hosts.yml": f"{_INTEGRATION}::test_cli_command_runs",
    ".venv/bin/autoglm-provision report": f"{_INTEGRATION}::test_cli_command_runs",
    ".venv/bin/autoglm-provision report --html": f"{_INTEGRATION}::test_cli_command_runs",
    ".venv/bin/autoglm-provision status inventory/mysite/hosts.yml": f"{_INTEGRATION}::test_cli_command_runs",
    ".venv/bin/autoglm-provision status": f"{_INTEGRATION}::test_cli_command_runs",
    ".venv/bin/autoglm-provision init inventory/mysite": f"{_INTEGRATION}::test_cli_command_runs",
    # docs/nvidia-driver.md
    "autoglm-provision validate inventory/hosts.yml": f"{_INTEGRATION}::test_cli_command_runs",
    # the collection: build, then the offline install (README.md, docs/awx.md)
    "ansible-galaxy collection build .": f"{_INTEGRATION}::test_collection_commands_run",
    "ansible-galaxy collection install autoglm-provision-0.1.0.tar.gz": f"{_INTEGRATION}::test_collection_commands_run",
    "ansible-galaxy collection install --offline autoglm-provision-0.1.0.tar.gz":
        f"{_INTEGRATION}::test_collection_commands_run",
    "ansible-galaxy collection build . --output-path ee-build": f"{_INTEGRATION}::test_collection_commands_run",
    "mkdir -p ee-build": f"{_INTEGRATION}::test_collection_commands_run",
    # plain shell in a checkout
    'export PATH="$PWD/.venv/bin:$PATH" CONTAINERS_CONF="$PWD/scripts/containers.conf"':
        f"{_INTEGRATION}::test_checkout_command_runs",
    'export PATH="$PWD/.venv/bin:$PATH"': f"{_INTEGRATION}::test_checkout_command_runs",
    "cp -r inventory/sample inventory/mysite": f"{_INTEGRATION}::test_checkout_command_runs",
    "cat > /tmp/local-inventory.yml <<'INV'": f"{_INTEGRATION}::test_checkout_command_runs",
    "python3 -m autoglm_smoke.build /tmp/smoke.pyz": f"{_INTEGRATION}::test_checkout_command_runs",
    # docs/runbooks: the read-only commands (validate, report, status) run in test_runbooks.py, from the
    # doc's words, in a working directory like the runbooks' ($RUN: the id of the run it holds)
    **dict.fromkeys([
        "autoglm-provision validate inventory/mysite/hosts.yml",
        "autoglm-provision validate inventory/mysite/hosts.yml -e nvidia_driver_version=535.216.01"
        " -e nvidia_driver_upgrade=true",
        "autoglm-provision status inventory/mysite/hosts.yml --json > before-upgrade.json",
        "autoglm-provision status inventory/mysite/hosts.yml --limit rack_a",
        "autoglm-provision report latest",
        "autoglm-provision report latest --html airgap-first-host.html",
        "autoglm-provision report latest --html bios-rack_b.html",
        "autoglm-provision report latest --html upgrade-535.216.01-rack_a.html",
        "autoglm-provision report latest --html bios-rack_a.html",
        "autoglm-provision report latest --html signoff-rack_a.html",
        "autoglm-provision report latest --html slow-node-recheck.html",
        "autoglm-provision report latest --html retest.html",
        "autoglm-provision report $RUN",
        "autoglm-provision report $RUN --html triage.html",
        "autoglm-provision report $RUN --json > triage-report.json",
    ], f"{_RUNBOOKS}::test_read_only_command_runs"),
}


@dataclass(frozen=True)
class DocCommand:
    file: str      # relative to the repository
    line: int      # 1-based line of the command's first line
    script: str    # as written (continuations, here-document body, comment)
    key: str       # one line, no trailing comment

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}"


def _strip_comment(line: str) -> str:
    """The line without a trailing shell comment (a # after a blank, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _complete(text: str) -> bool:
    """Whether a shell text is a whole command: no open quote, no trailing backslash."""
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return False
    return True


def _heredoc_end(text: str) -> str | None:
    match = re.search(r"<<-?\s*['\"]?([A-Za-z_]+)['\"]?", _strip_comment(text))
    return match[1] if match else None


def _commands_in_block(lines: list[str], first_line: int, console: bool):
    """(line number, lines) of each command in a fenced block's lines."""
    i = 0
    while i < len(lines):
        raw = lines[i]
        start = i
        if console:
            if not raw.startswith("$ "):
                i += 1
                continue
            raw = raw[2:]
        elif not raw.strip() or raw.lstrip().startswith("#"):
            i += 1
            continue
        parts = [raw]
        while not _complete("\n".join(parts)) and i + 1 < len(lines):
            i += 1
            parts.append(lines[i].removeprefix("> ") if console else lines[i])
        end = _heredoc_end(parts[0])
        while end and i + 1 < len(lines) and parts[-1].strip() != end:
            i += 1
            parts.append(lines[i])
        yield first_line + start, parts
        i += 1


def _key(parts: list[str]) -> str:
    if _heredoc_end(parts[0]):
        parts = parts[:1]
    joined = " ".join(p.strip().removesuffix("\\").strip() for p in parts)
    return _strip_comment(joined)


def commands_of(path: Path) -> list[DocCommand]:
    lines = path.read_text(encoding="utf-8").splitlines()
    name = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name
    found, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\S*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        close = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        lang = fence[1].lower()
        if lang in SHELL_FENCES | CONSOLE_FENCES:
            for line, parts in _commands_in_block(lines[i + 1:close], i + 2, lang in CONSOLE_FENCES):
                found.append(DocCommand(name, line, "\n".join(parts), _key(parts)))
        i = close + 1
    return found


def all_commands() -> list[DocCommand]:
    return [c for path in DOCS for c in commands_of(path)]


def parse_exemptions(text: str) -> dict[str, str]:
    """command key -> why it cannot run in the test suite, from the exemptions file's format:
    `$ command` lines, each followed by its reason on indented lines; `#` lines are comments."""
    found: dict[str, str] = {}
    key = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            key = None
        elif line.startswith("$ "):
            key = line[2:].strip()
            if key in found:
                raise ValueError(f"line {number}: {key!r} is listed twice")
            found[key] = ""
        elif line.startswith("  ") and key is not None:
            found[key] = f"{found[key]} {line.strip()}".strip()
        else:
            raise ValueError(f"line {number}: neither `$ command`, an indented reason nor a # comment: {line!r}")
    return found


def exemptions() -> dict[str, str]:
    return parse_exemptions(EXEMPTIONS_FILE.read_text(encoding="utf-8"))


def find(key: str) -> DocCommand:
    """The command a doc spells `key` (the first, when several docs do): a test runs its script."""
    for command in all_commands():
        if command.key == key:
            return command
    raise LookupError(f"no doc tells a user to type {key!r} (README.md, docs/)")


def run_by(test: str) -> list[DocCommand]:
    """The doc commands RUN_BY gives to `test` (a function name), one per key, in doc order."""
    keys = {key for key, runner in RUN_BY.items() if runner.endswith(f"::{test}")}
    seen: dict[str, DocCommand] = {}
    for command in all_commands():
        if command.key in keys:
            seen.setdefault(command.key, command)
    return list(seen.values())
