
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
