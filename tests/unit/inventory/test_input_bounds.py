"""Inputs are bounded before they are parsed, located when they do not parse, and printed escaped
(issue #29, item 10): every case through ``validate`` as the operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from provisioner import cli
from provisioner.errors import Problem, shown
from provisioner.inventory.bounds import MAX_INI_LINE_BYTES, MAX_INVENTORY_FILE_BYTES
from provisioner.results.report import COUNTERS
from provisioner.views import console as views_console

pytestmark = pytest.mark.faults  # the fault-injection suite: pytest -m faults (docs/reliability.md)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _validate(path, capsys) -> tuple[int, str]:
    rc = cli.main(["validate", str(path)])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_an_inventory_over_the_size_limit_is_refused_at_once_naming_file_size_and_limit(tmp_path):
    big = tmp_path / "hosts.yml"
    line = b"    host%07d:\n      ansible_host: 10.0.0.1\n"
    count = 50 * 1024 * 1024 // len(line % 0)
    with big.open("wb") as handle:  # ~50 MB
        handle.write(b"all:\n  hosts:\n")
        handle.writelines(line % i for i in range(count))
    peak = "print([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0])"  # this process's own peak
    code = (f"import sys, time\nfrom provisioner import cli\nstarted = time.monotonic()\n"
            f"rc = cli.main(['validate', {str(big)!r}])\nprint('seconds', time.monotonic() - started)\n{peak}\n"
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    seconds = float(done.stdout.split("seconds")[1].split()[0])
    assert seconds < 2, f"validate took {seconds:.1f} s"
    assert str(big) in done.stdout and f"{big.stat().st_size:,} bytes" in done.stdout and "8.0 MiB" in done.stdout
    peak_kib = int(done.stdout.split("VmHWM:")[1].split()[0])
    assert peak_kib < 256 * 1024, f"{peak_kib} KiB"
    assert MAX_INVENTORY_FILE_BYTES == 8 * 1024 * 1024


def test_a_single_huge_line_is_refused_at_once_naming_file_and_line(tmp_path, capsys):
    inventory = tmp_path / "hosts"
    inventory.write_text("[gpus]\nhost1 a=" + "x" * (2 * MAX_INI_LINE_BYTES) + "\n")
    started = time.monotonic()
    rc, text = _validate(inventory, capsys)
    assert rc == 2 and time.monotonic() - started < 2, text
    assert f"{inventory}:2" in text and f"at most {MAX_INI_LINE_BYTES:,} bytes per line" in text, text


def test_an_extra_vars_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path, capsys):
    """-e @file was bounded only by the YAML loader (64 MiB): now by the inventory files' limit."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    h1:\n      ansible_connection: local\n")
    big = tmp_path / "vars.yml"
    line = b"v%07d: [1, 2, 3, 4, 5, 6, 7, 8]\n"
    with big.open("wb") as handle:  # ~12 MB of valid YAML
        handle.writelines(line % i for i in range(12 * 1024 * 1024 // len(line % 0)))
    started = time.monotonic()
    rc = cli.main(["validate", str(inventory), "-e", f"@{big}"])
    text = "".join(capsys.readouterr())
    assert rc == 2 and time.monotonic() - started < 2, text
    assert str(big) in text and f"{big.stat().st_size:,} bytes" in text and "8.0 MiB" in text, text
    one_line = tmp_path / "line.json"
    one_line.write_text('{"x": "' + "y" * (2 * 1024 * 1024) + '"}')
    rc = cli.main(["validate", str(inventory), "-e", f"@{one_line}"])
    text = "".join(capsys.readouterr())
    assert rc == 2 and f"{one_line}:1" in text and "bytes per line" in text, text


@pytest.mark.parametrize(("content", "line"), [
    (b"all:\n  hosts:\n    h1:\n      ansible_host: \"10.0.0.1\n    h2:\n", 6),  # unclosed quote
    (b"all:\n  hosts:\n    h1:\n      ansible_host: 10.0.0.1\x00\n", 4),  # NUL byte
    (b"all:\n  hosts:\n    h1:\n      ? [a, b]\n      : 1\n", 4),  # unhashable key
    (b"all:\n  hosts:\n    h1: &a\n      x: *a\n", 3),  # recursive mapping: where it is defined
], ids=["unclosed-quote", "nul-byte", "unhashable-key", "recursive-mapping"])
def test_yaml_syntax_errors_name_file_and_line(content, line, tmp_path, capsys):
    inventory = tmp_path / "hosts.yml"
    inventory.write_bytes(content)
    rc, text = _validate(inventory, capsys)
    assert rc == 2, text
    assert f"error: {inventory}:{line}" in text, text


def test_an_integer_for_a_file_mode_or_a_string_choice_fails_naming_variable_and_what_is_allowed(tmp_path, capsys):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  vars:\n    python_venv_mode: 1\n    ipmi_bmc_mode: 1\n"
                         "  hosts:\n    h1:\n      ansible_connection: local\n")
    rc, text = _validate(inventory, capsys)
    assert rc == 2, text
    assert "variable python_venv_mode" in text and "'0755'" in text, text
    assert "variable ipmi_bmc_mode" in text and "'auto', 'present', 'absent'" in text, text


NAME = "gpu\u202e01\u200b\x1b[31m"


def test_hostile_characters_in_host_names_are_printed_escaped():
    assert shown(NAME) == "gpu\\u202e01\\u200b\\x1b[31m"
    assert shown("节点-01 ok\n") == "节点-01 ok\n"
    assert "\u202e" not in Problem("bad", host=NAME).render()
    console = views_console.make_console(force_plain=True)
    with console.capture() as captured:
        console.print(views_console.status_table([{"host": NAME, "ready": False}]))
        console.print(views_console.summary_table({"action": "check", "run_id": "r", "status": "ok",
                                                   "duration_s": 1.0, "exit_code": 0,
                                                   "hosts": {NAME: {"status": "ok", **dict.fromkeys(COUNTERS, 0)}}}))
    assert "\u202e" not in captured.get() and "\u200b" not in captured.get() and "gpu\\u202e01" in captured.get()
