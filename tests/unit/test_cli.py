
import pytest

from provisioner.cli import _normalise_argv, build_parser, main
from provisioner.errors import UsageError
from provisioner.rules.rollout import parse_batch


def test_bare_inventory_means_site_and_flags_parse():
    args = build_parser().parse_args(_normalise_argv(["inv.yml", "-C", "-l", "gpu", "-e", "a=1", "-e", "@x.yml",
                                                      "--batch", "1,10%,100%", "--max-fail-percentage", "5"]))
    assert args.command == "site" and args.check and args.limit == "gpu"
    assert args.extra_vars == ["a=1", "@x.yml"] and args.batch == "1,10%,100%" and args.max_fail_percentage == 5


def test_parse_batch_forms():
    assert parse_batch("1,10%,100%", "--batch") == [1, "10%", "100%"]
    assert parse_batch(5, "autoglm_batch") == [5]
    assert parse_batch(["2", "50%"], "autoglm_batch") == [2, "50%"]
    assert parse_batch(None, "--batch") is None
    for bad in ("0", "0%", "101%", "x", "1,,2", "-1"):
        with pytest.raises(UsageError, match="not a batch size"):
            parse_batch(bad, "--batch")


def test_a_comma_host_list_is_an_inventory_source(tmp_path, monkeypatch, capsys):
    """Issue #28 item 3: ``validate gpu1,gpu2,`` and ``-i localhost,`` as ansible's host_list plugin takes them."""
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "gpu1,gpu2,", "-i", "localhost,"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "3 hosts" in out and "no such file" not in out, out
    assert main(["validate", "gpu1"]) == 2  # no comma: a path, and it does not exist
    out = capsys.readouterr()
    assert "gpu1: no such file or directory" in out.out + out.err


def test_a_rollout_cap_set_for_some_hosts_only_stops_the_run_naming_it(tmp_path, monkeypatch, capsys):
    """Issue #28 item 4: the CLI passes ``all``'s caps as extra vars; one a group sets would be refused by
    the playbook's first play (rollout_caps.yml), so the CLI names it first, and runs nothing."""
    from provisioner.run import execute
    from provisioner.run.runner import RunOutcome

    ran = []
    monkeypatch.setenv("AUTOGLM_PROVISION_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(execute, "run_playbook", lambda **kw: ran.append(kw))
    monkeypatch.setattr(execute, "strict_preflight", lambda *a, **k: [])
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  vars: {autoglm_batch: 2}\n  children:\n    rack1:\n      vars:\n"
                   "        autoglm_max_fail_percentage: 0\n      hosts: {a.example: , b.example: }\n")
    assert main(["site", str(inv)]) == 2
    out = capsys.readouterr()
    assert f"{inv}:6, host a.example, variable autoglm_max_fail_percentage: 0 is set for some hosts only" in out.out
    assert "--max-fail-percentage" in out.out and not ran
    monkeypatch.setattr(execute, "run_playbook", lambda **kw: ran.append(kw) or RunOutcome("successful", 0, 0.0))
    main(["site", str(inv), "--max-fail-percentage", "10"])  # the flag is the whole run's cap: it runs
    assert "some hosts only" not in capsys.readouterr().out and len(ran) == 1
