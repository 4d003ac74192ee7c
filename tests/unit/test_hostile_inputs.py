"""The hostile-input corpus (tests/fixtures/hostile_corpus.py) against the CLI, in process: each
case must exit 2 with a message naming what is wrong (every ``expect`` string), run nothing and
raise no exception. The pass rate is printed; cases issue 13 owns (connection variables) are
listed as known gaps rather than hidden."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

from provisioner import cli
from provisioner.run import execute
from provisioner.run.runner import RunOutcome
from tests.fixtures.hostile_corpus import CORPUS, Case

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

NOTHING_RAN = RunOutcome(status="successful", rc=0, duration_s=0.0)  # the playbook is stubbed out

# Connection variables are validated by issue 13's work (inventory via ansible-core); until it
# lands these run the playbook instead of stopping. Listed here so the rate stays honest.
KNOWN_GAPS = {"ssh port not a number", "unknown connection plugin"}
BAR = 0.95


def _fill(text: str, tmp: Path) -> str:
    return (text.replace("{inv}", str(tmp / "hosts.yml")).replace("{state}", str(tmp / "state"))
            .replace("{tmp}", str(tmp)))


def run_case(case: Case, tmp: Path, monkeypatch, capsys) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    if case.inv is not None:
        (tmp / "hosts.yml").write_text(case.inv)
    for rel, content in case.files.items():
        path = tmp / _fill(rel, tmp)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    env = {k: _fill(v, tmp) for k, v in case.env.items()}
    if link := env.pop("_LINK_LATEST", None):
        (tmp / "state" / "runs" / "latest").symlink_to(link)
    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(tmp / "state"))
    monkeypatch.setenv("AUTOGLM_DEBUG", "1")  # an unexpected exception escapes: counted as a traceback
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ran: list[str] = []
    monkeypatch.setattr(execute, "run_playbook", lambda **kw: ran.append(str(kw.get("playbook"))) or NOTHING_RAN)
    monkeypatch.setattr(execute, "strict_preflight", lambda *a, **k: [])
    argv = [_fill(a, tmp) for a in case.argv]
    started = time.monotonic()
    traceback = None
    try:
        rc = cli.main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code
    except BaseException as exc:  # noqa: BLE001 - the point is to catch everything
        rc, traceback = None, f"{type(exc).__name__}: {exc}"[:300]
    seconds = time.monotonic() - started
    out = capsys.readouterr()
    text = out.out + out.err
    missing = [e for e in (_fill(x, tmp) for x in case.expect) if e not in text]
    return {"rc": rc, "traceback": traceback, "ran": ran, "missing": missing, "seconds": seconds,
            "ok": rc == 2 and not traceback and not ran and not missing and "Traceback" not in text,
            "output": text[-600:]}


def test_hostile_corpus_meets_the_bar(tmp_path, monkeypatch, capsys):
    results = {}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for index, case in enumerate(CORPUS):
        with monkeypatch.context() as patch:
            results[case.name] = run_case(case, tmp_path / f"c{index}", patch, capsys)
    rss_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    failed = {n: r for n, r in results.items() if not r["ok"]}
    rate = 1 - len(failed) / len(results)
    with capsys.disabled():
        print(f"\nhostile corpus: {len(results) - len(failed)} of {len(results)} cases meet the bar ({rate:.1%}); "
              f"tracebacks: {sum(bool(r['traceback']) for r in results.values())}; slowest "
              f"{max(r['seconds'] for r in results.values()):.2f} s; peak RSS growth {rss_growth_mib:.0f} MiB")
        for name, r in failed.items():
            print(f"  {'(known gap) ' if name in KNOWN_GAPS else ''}{name}: rc={r['rc']} ran={bool(r['ran'])} "
                  f"missing={r['missing']} traceback={r['traceback']}")
    assert not [n for n, r in results.items() if r["traceback"]], "tracebacks"
    assert set(failed) <= KNOWN_GAPS, {n: failed[n] for n in set(failed) - KNOWN_GAPS}
    assert rate >= BAR
    assert max(r["seconds"] for r in results.values()) < 20
    assert rss_growth_mib < 1024


@pytest.mark.parametrize("case", [c for c in CORPUS if c.name in {"-e non-string key", "subcommand typo chek",
                                                                     "range bomb", "slow-threshold 5"}],
                         ids=lambda c: c.name)
def test_issue_examples_each_exit_2(case, tmp_path, monkeypatch, capsys):
    result = run_case(case, tmp_path, monkeypatch, capsys)
    assert result["ok"], result


def test_unreadable_group_vars_is_an_input_error(tmp_path, monkeypatch, capsys):
    """As root every directory is readable: the unreadable one is simulated at iterdir()."""
    case = next(c for c in CORPUS if c.name == "group_vars YAML error")
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self.name == "group_vars":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    case = Case("unreadable group_vars", ["validate", "{inv}"], ["group_vars", "Permission denied"],
                files=case.files)
    result = run_case(case, tmp_path, monkeypatch, capsys)
    assert result["ok"], result
    assert os.geteuid() == 0 or True


@pytest.mark.parametrize("command", ["validate", "check", "status"])
@pytest.mark.parametrize("name", ["../../../../{tmp}/escaped", "/etc/x", "a\\\\b", "bad\\tname"], ids=repr)
def test_host_name_that_is_a_path_is_refused(command, name, tmp_path, monkeypatch, capsys):
    """A host name becomes file names on the controller (host state, smoke results): one holding a
    path separator or a control character is refused up front, naming the host and what is allowed."""
    inv = f'all:\n  hosts:\n    "{name}":\n      ansible_connection: local\n'
    case = Case("host name path", [command, "{inv}"], ["{inv}", "host name", "'/'", "control characters"],
                inv=inv)
    result = run_case(case, tmp_path, monkeypatch, capsys)
    assert result["ok"], result
    assert not list(tmp_path.rglob("escaped*")) and not (tmp_path / "state" / "runs").exists()


REFUSED_RUNS = [["check", "--limit", "nosuchhost"], ["check", "--tags", "nosuchtag"],
                ["smoke", "--skip-tags", "nosuchtag"], ["check", "-e", "preflight_disk_gb_minimum=x"]]


@pytest.mark.parametrize("argv", REFUSED_RUNS, ids=" ".join)
def test_a_refused_run_leaves_no_run_directory_and_rotates_nothing(argv, tmp_path, monkeypatch, capsys):
    """With no inventory the CLI makes its run directory first (the local inventory lives there): a
    run refused before it starts removes it again and pushes no earlier run out of rotation."""
    from provisioner.state import rundir

    runs = tmp_path / "state" / "runs"
    earlier = rundir.create(runs, keep=0)
    (earlier / "report.json").write_text("{}")
    rundir.mark_latest(earlier)
    rundir.release(earlier)
    result = run_case(Case("refused", [*argv, "--plain", "--keep-runs", "1"], [argv[-1].split("=")[0]], inv=None),
                      tmp_path, monkeypatch, capsys)
    assert result["ok"], result
    assert rundir.list_runs(runs) == [earlier] and (runs / "latest").resolve() == earlier


FLAG_CASES = [
    Case("probe-strict with no-probe", ["smoke", "--probe-strict", "--no-probe"], ["--probe-strict", "--no-probe"]),
    Case("private key is a directory", ["check", "--private-key", "{tmp}"], ["--private-key", "{tmp}", "directory"]),
    Case("vault password file is a directory", ["check", "--vault-password-file", "{tmp}"],
         ["--vault-password-file", "{tmp}", "directory"]),
    Case("vault password file is empty", ["check", "--vault-password-file", "{tmp}/empty"],
         ["--vault-password-file", "{tmp}/empty", "empty"], files={"empty": ""}),
]


@pytest.mark.parametrize("case", FLAG_CASES, ids=lambda c: c.name)
def test_contradictory_or_unusable_flags_exit_2_before_anything_runs(case, tmp_path, monkeypatch, capsys):
    result = run_case(case, tmp_path, monkeypatch, capsys)
    assert result["ok"], result
    assert not (tmp_path / "state" / "runs").exists() or not any((tmp_path / "state" / "runs").iterdir())
