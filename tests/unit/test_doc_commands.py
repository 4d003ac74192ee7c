"""Every command README.md and docs/**/*.md tell a user to type is run by a test or exempted with a
reason (issue #28 item 7): tests/doc_commands.py RUN_BY, tests/fixtures/doc_commands_exempt.txt."""

from __future__ import annotations

import re

import pytest

from tests import doc_commands as dc
from tests.unit import test_runbooks

COMMANDS = dc.all_commands()
EXEMPT = dc.exemptions()


def test_the_docs_have_commands():
    files = {c.file for c in COMMANDS}
    assert {"README.md", "docs/awx.md", "docs/testing.md", "docs/runbooks/new-rack-bring-up.md"} <= files, files


def test_every_doc_command_is_run_by_a_test_or_exempted():
    neither = [str(c) for c in COMMANDS if c.key not in dc.RUN_BY and c.key not in EXEMPT]
    assert not neither, (
        "commands in the docs that no test runs and no exemption names (run one in a test and list it in "
        f"tests/doc_commands.py RUN_BY, or give the reason in {dc.EXEMPTIONS_FILE.name}):\n  "
        + "\n  ".join(neither))


def test_no_command_is_both_run_and_exempted():
    assert not set(dc.RUN_BY) & set(EXEMPT)


@pytest.mark.parametrize("registry", ["RUN_BY", "exemptions"])
def test_every_entry_names_a_command_a_doc_has(registry):
    keys = {c.key for c in COMMANDS}
    entries = dc.RUN_BY if registry == "RUN_BY" else EXEMPT
    stale = [key for key in entries if key not in keys]
    assert not stale, f"{registry}: no doc has these any more (drop or update them): {stale}"


def test_every_exemption_says_why():
    assert all(len(reason.split()) >= 3 for reason in EXEMPT.values()), EXEMPT


@pytest.mark.parametrize("runner", sorted(set(dc.RUN_BY.values())))
def test_every_runner_is_a_test_that_takes_its_commands_from_the_docs(runner):
    path, function = runner.split("::")
    source = (dc.REPO / path).read_text(encoding="utf-8")
    assert re.search(rf"^def {function}\(", source, flags=re.M), f"{runner}: no such test"
    if path == "tests/unit/test_runbooks.py":  # reads docs/runbooks itself: cross-checked below
        return
    assert f'run_by("{function}")' in source, f"{runner}: does not take its commands out of the docs (run_by)"


def test_the_runbook_commands_given_to_test_runbooks_are_the_ones_it_runs():
    ran = {(f"docs/runbooks/{c.file}", c.line) for c in test_runbooks.READ_ONLY_COMMANDS}
    given = [c for c in COMMANDS if dc.RUN_BY.get(c.key, "").endswith("::test_read_only_command_runs")]
    assert given and all((c.file, c.line) in ran for c in given), [str(c) for c in given if (c.file, c.line) not in ran]


def test_parser_reads_continuations_comments_heredocs_quotes_and_prompts(tmp_path):
    doc = tmp_path / "parser.md"
    doc.write_text("\n".join([
        "text `not a command`", "```sh", "# a comment line", "a --x   # trailing, it's a comment",
        "b one \\", "    two", "c 'multi", "line' end", "cat > f <<'EOF'", "body: 1", "EOF", "```",
        "```console", "$ d --flag", "output, not a command", "```", "```yaml", "e: not shell", "```", "",
    ]), encoding="utf-8")
    found = dc.commands_of(doc)
    assert [(c.line, c.key) for c in found] == [
        (4, "a --x"), (5, "b one two"), (7, "c 'multi line' end"), (9, "cat > f <<'EOF'"), (14, "d --flag")]
    assert found[3].script == "cat > f <<'EOF'\nbody: 1\nEOF"  # the script keeps the here-document


def test_a_new_undeclared_command_is_named_with_file_and_line(tmp_path, monkeypatch):
    extra = tmp_path / "new-page.md"
    extra.write_text("# x\n\n```bash\nautoglm-provision frobnicate\n```\n", encoding="utf-8")
    monkeypatch.setattr(dc, "DOCS", [*dc.DOCS, extra])
    monkeypatch.setitem(globals(), "COMMANDS", dc.all_commands())
    with pytest.raises(AssertionError, match=r"new-page.md:4: autoglm-provision frobnicate"):
        test_every_doc_command_is_run_by_a_test_or_exempted()


@pytest.mark.parametrize(("text", "error"), [
    ("$ a\n$ a\n  twice\n", "listed twice"),
    ("a reason without a command\n", "neither"),
])
def test_bad_exemption_files_are_refused(text, error):
    with pytest.raises(ValueError, match=error):
        dc.parse_exemptions(text)
