from pathlib import Path

import pytest

from provisioner.inventory import expand_host_pattern, is_addressable, read_inventory


def write(tmp_path: Path, text: str, name: str = "hosts.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def messages(inv) -> list[str]:
    return [p.render() for p in inv.problems]


def test_ranges_expand_with_padding_letters_and_steps():
    assert expand_host_pattern("gpu[01:03].dc") == ["gpu01.dc", "gpu02.dc", "gpu03.dc"]
    assert expand_host_pattern("rack-[a:c]") == ["rack-a", "rack-b", "rack-c"]
    assert expand_host_pattern("n[0:10:5]") == ["n0", "n5", "n10"]
    assert expand_host_pattern("r[1:2]n[1:2]") == ["r1n1", "r1n2", "r2n1", "r2n2"]
    with pytest.raises(ValueError, match="start is after the end"):
        expand_host_pattern("n[5:1]")


def test_addressable_names():
    assert is_addressable("10.0.0.1") and is_addressable("gpu-01.example.com") and is_addressable("::1")
    assert not is_addressable("gpu_01") and not is_addressable("rack 3") and not is_addressable("-bad")


def test_structure_groups_children_and_precedence(tmp_path):
    path = write(tmp_path, """
all:
  vars: {level: all, only_all: 1}
  children:
    gpu:
      vars: {level: gpu}
      children:
        h100:
          vars: {level: h100}
          hosts:
            node[1:2]:
    cpu:
      hosts:
        node1: {level: host}
""")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "gpu.yml").write_text("from_group_vars: yes\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "node2").mkdir()
    (tmp_path / "host_vars" / "node2" / "main.yml").write_text("level: host_vars\n")
    inv = read_inventory(path)
    assert not inv.problems, messages(inv)
    assert set(inv.hosts) == {"node1", "node2"}
    assert inv.hosts["node1"].groups[0] == "all" and {"gpu", "h100", "cpu"} <= set(inv.hosts["node1"].groups)
    assert inv.merged_vars("node1")["level"].value == "host"
    merged2 = inv.merged_vars("node2")
    assert merged2["level"].value == "host_vars" and merged2["level"].file.endswith("main.yml")
    assert merged2["from_group_vars"].value is True and merged2["only_all"].value == 1
    assert inv.groups["h100"].depth == 2


def test_syntax_error_has_file_line_column(tmp_path):
    path = write(tmp_path, "all:\n  hosts:\n    a: {ansible_host: [\n")
    inv = read_inventory(path)
    assert len(inv.problems) == 1
    problem = inv.problems[0]
    assert problem.file == str(path) and problem.line == 4 and problem.column is not None
    assert "YAML syntax error" in problem.message


def test_duplicates_unknown_keys_and_bad_shapes_are_all_reported(tmp_path):
    path = write(tmp_path, """all:
  hosts:
    gpu01: {ansible_host: 10.0.0.1}
    gpu01: {ansible_host: 10.0.0.2}
    GPU01.: {ansible_host: 10.0.0.3}
    twin: {ansible_host: 10.0.0.2}
    bad_name:
  hostz: {}
  children:
    broken: [a, b]
""")
    text = "\n".join(messages(read_inventory(path)))
    assert f"{path}:4:5" in text and "duplicate host 'gpu01'" in text
    assert "differ only in case" in text
    assert "both point at 10.0.0.2 port 22" in text
    assert "host 'bad_name' has no ansible_host" in text
    assert "unknown key 'hostz'" in text and "allowed: hosts, children, vars" in text
    assert "group 'broken' must be a mapping" in text


def test_local_connection_needs_no_address_and_cycles_are_errors(tmp_path):
    path = write(tmp_path, """all:
  hosts:
    my_laptop: {ansible_connection: local}
  children:
    a: {children: {b: {}}}
    b: {children: {a: {}}}
""")
    text = "\n".join(messages(read_inventory(path)))
    assert "my_laptop" not in text
    assert "cycle" in text


def test_empty_and_non_mapping_inventories(tmp_path):
    assert "no hosts" in messages(read_inventory(write(tmp_path, "all: {}\n")))[0]
    assert "must be a YAML mapping" in messages(read_inventory(write(tmp_path, "- a\n- b\n", "l.yml")))[0]


def test_stray_group_vars_file_is_a_warning(tmp_path):
    path = write(tmp_path, "all:\n  hosts:\n    a.example:\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "gpus.yml").write_text("x: 1\n")
    problems = read_inventory(path).problems
    assert [p.severity for p in problems] == ["warning"] and "names no group" in problems[0].message
