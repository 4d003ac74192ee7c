"""The inventory model is ansible-core's: every test compares with ``ansible-inventory --list`` run on
the same sources, then checks what only the project adds (locations, structural problems)."""

from pathlib import Path

import pytest

from provisioner.inventory.inventory import is_addressable, read_inventory
from provisioner.inventory.yamlsrc import LocatedDict
from tests.fixtures.ansible_list import ansible_list, members, ours

PUBLIC = Path(__file__).resolve().parents[2] / "fixtures" / "inventories"


def write(tmp_path: Path, text: str, name: str = "hosts.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def messages(inv) -> list[str]:
    return [p.render() for p in inv.problems]


def assert_same_as_ansible(*sources: Path):
    inv = read_inventory(list(sources))
    errors = [p.message for p in inv.problems if p.severity == "error"]
    assert errors in ([], ["the inventory defines no hosts"]), messages(inv)
    listing = ansible_list(*sources)
    hostvars, groups = ours(inv)
    theirs = members(listing)
    assert set(hostvars) == theirs.get("all", set())
    assert {h: v for h, v in hostvars.items() if v} == listing["_meta"]["hostvars"]  # it omits hosts with none
    for group, hosts in theirs.items():
        assert groups[group] == hosts, group
    assert {g for g, hosts in groups.items() if hosts} == {g for g, hosts in theirs.items() if hosts}
    return inv


@pytest.mark.parametrize("source", [
    "ansible-examples/hosts",               # INI, ungrouped hosts, ranges mail[:5], www[001:006]
    "docs-examples/hosts.yml",              # YAML, children, ranges with steps and letters, group priority
    "kolla-ansible/multinode",              # INI, ~100 :children groups, a local connection
    "ceph-ansible/hosts",                   # INI, quoted values, Jinja, dict literals, [all:vars]
    "k3s-ansible/inventory-sample.yml",     # YAML, IP host names, templated vars
    "kubespray/mycluster",                  # directory: inventory.ini + group_vars/<group>/*.yml
    "deepops/mysite",                       # directory: INI with tabs after names, group_vars/all.yml
    "deepops/config.example",               # the sample as shipped: every host commented out
    "kubespray/sample/inventory.ini",       # the sample as shipped: groups only, hosts commented out
    "constructed",                          # directory with a `constructed` plugin configuration
])
def test_public_inventories_resolve_exactly_as_ansible_inventory_lists_them(source):
    assert_same_as_ansible(PUBLIC / source)


def test_ranges_and_group_priority_as_ansible_has_them():
    inv = assert_same_as_ansible(PUBLIC / "docs-examples" / "hosts.yml")
    assert [h for h in inv.hosts if h.startswith("www")][:3] == ["www01.example.com", "www03.example.com",
                                                                  "www05.example.com"]
    assert inv.merged_vars("testhost")["testvar"].value == "a"  # priority 10 beats b_group
    mail = read_inventory(PUBLIC / "ansible-examples" / "hosts")
    assert [h for h in mail.hosts if h.startswith("mail")] == [f"mail{i}.example.com" for i in range(6)]


def test_several_sources_and_group_vars_all_over_inline_child_vars(tmp_path):
    first = write(tmp_path, "[gpu]\nnode[1:2] ansible_user=inline\n[gpu:vars]\nlevel=gpu\n", "a.ini")
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = write(second_dir, "all:\n  children:\n    cpu:\n      hosts:\n        node2: {level: host}\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("level: all_file\nansible_user: from_all\n")
    inv = assert_same_as_ansible(first, second)
    # Ansible's order: group_vars/all.yml (a vars plugin) beats the inventory's own group vars.
    assert inv.merged_vars("node1")["level"].value == "all_file"
    assert inv.merged_vars("node1")["level"].file == str(tmp_path / "group_vars" / "all.yml")
    assert inv.merged_vars("node2")["level"].value == "host"
    assert inv.merged_vars("node1")["ansible_user"].line == 2  # first.ini line 2 (host var beats all)


def test_structure_children_precedence_and_locations(tmp_path):
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
    inv = assert_same_as_ansible(path)
    assert inv.hosts["node1"].groups[0] == "all" and {"gpu", "h100", "cpu"} <= set(inv.hosts["node1"].groups)
    assert (inv.merged_vars("node1")["level"].value, inv.merged_vars("node1")["level"].line) == ("host", 14)
    merged2 = inv.merged_vars("node2")
    assert merged2["level"].value == "host_vars" and merged2["level"].file.endswith("main.yml")
    assert merged2["from_group_vars"].value is True and merged2["only_all"].value == 1
    assert merged2["only_all"].line == 3
    assert inv.groups["h100"].depth == 2


def test_addressable_names():
    assert is_addressable("10.0.0.1") and is_addressable("gpu-01.example.com") and is_addressable("::1")
    assert not is_addressable("gpu_01") and not is_addressable("rack 3") and not is_addressable("-bad")


def test_yaml_syntax_error_has_file_line_column(tmp_path):
    path = write(tmp_path, "all:\n  hosts:\n    a: {ansible_host: [\n")
    inv = read_inventory(path)
    assert len(inv.problems) == 1
    problem = inv.problems[0]
    assert problem.file == str(path) and problem.line == 4 and problem.column is not None
    assert "YAML syntax error" in problem.message


def test_ini_error_has_file_and_line(tmp_path):
    path = write(tmp_path, "[gpu]\nnode1\n\n[gpu:typo]\nnode2\n", "hosts.ini")
    inv = read_inventory(path)
    errors = [p for p in inv.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].file == str(path) and errors[0].line == 4
    assert "unknown type: typo" in errors[0].message and "ini plugin" in errors[0].message


def test_bad_vars_file_is_located_and_the_rest_still_read(tmp_path):
    path = write(tmp_path, "[gpu]\nnode1\n", "hosts.ini")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "gpu.yml").write_text("a: 1\nb: [\n")
    inv = read_inventory(path)
    assert list(inv.hosts) == ["node1"]
    assert [(p.file, p.line) for p in inv.problems] == [(str(tmp_path / "group_vars" / "gpu.yml"), 3)]


def test_duplicates_unknown_keys_and_bad_shapes_are_all_reported(tmp_path):
    path = write(tmp_path, """all:
  hosts:
    gpu01: {ansible_host: 10.0.0.1}
    gpu01: {ansible_host: 10.0.0.2}
    GPU01.: {ansible_host: 10.0.0.3}
    twin: {ansible_host: 10.0.0.2}
    bad_name:
  hostz: {}
""")
    text = "\n".join(messages(read_inventory(path)))
    assert f"{path}:4:5" in text and "duplicate host 'gpu01'" in text
    assert "differ only in case" in text
    assert "both point at 10.0.0.2 port 22" in text
    assert "host 'bad_name' has no ansible_host" in text
    assert f"{path}:8:3" in text and "unknown key 'hostz'" in text and "allowed: vars, children, hosts" in text


def test_shapes_ansible_refuses_and_cycles_are_errors(tmp_path):
    broken = read_inventory(write(tmp_path, "all:\n  children:\n    broken:\n      hosts: [a, b]\n"))
    assert any("hosts of group 'broken' must be a mapping" in m for m in messages(broken))
    cycle = read_inventory(write(tmp_path, "all:\n  hosts:\n    a.example:\n  children:\n    a: {children: {b: {}}}\n"
                                           "    b: {children: {a: {}}}\n", "cycle.yml"))
    assert any("recursive dependency loop" in p.message and p.severity == "error" for p in cycle.problems)


def test_local_connection_needs_no_address(tmp_path):
    text = "\n".join(messages(read_inventory(write(tmp_path, "all:\n  hosts:\n    my_laptop: "
                                                               "{ansible_connection: local}\n"))))
    assert "my_laptop" not in text


def test_empty_missing_and_non_mapping_inventories(tmp_path):
    assert "no hosts" in messages(read_inventory(write(tmp_path, "all: {}\n")))[0]
    assert any("Ansible cannot parse" in m for m in messages(read_inventory(write(tmp_path, "- a\n- b\n", "l.yml"))))
    assert "no such file" in messages(read_inventory(tmp_path / "absent.yml"))[0]


def test_stray_group_vars_file_is_a_warning(tmp_path):
    path = write(tmp_path, "all:\n  hosts:\n    a.example:\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "gpus.yml").write_text("x: 1\n")
    problems = read_inventory(path).problems
    assert [p.severity for p in problems] == ["warning"] and "names no group" in problems[0].message


def test_mappings_and_lists_in_a_yaml_inventorys_own_vars_read_as_ansible_reads_them(tmp_path):
    """Issue #28 item 1: ansible-core 2.19 stores no dict subclass, so the located mappings must not
    reach it; the values are plain and each still has its file:line."""
    path = write(tmp_path, """all:
  vars:
    modprobe_options: {nvidia: {NVreg_EnableGpuFirmware: 0}}
  hosts:
    gpu1:
      ansible_host: 10.0.0.1
      nested: {a: [1, {b: 2}]}
""")
    inv = assert_same_as_ansible(path)
    merged = inv.merged_vars("gpu1")
    assert merged["nested"].value == {"a": [1, {"b": 2}]}
    assert not isinstance(merged["nested"].value["a"][1], LocatedDict)
    assert (merged["modprobe_options"].file, merged["modprobe_options"].line) == (str(path), 3)
    assert merged["nested"].line == 7


def test_yaml_in_an_inventory_directory_that_is_not_inventory_is_skipped_with_a_warning(tmp_path):
    """Issue #28 item 2: kustomize files and Kubernetes manifests beside the inventory; Ansible warns and
    skips them. A file that is inventory keeps its errors, even in the same directory."""
    write(tmp_path, "all:\n  hosts:\n    gpu1: {ansible_host: 10.0.0.1}\n")
    write(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: v\n", "cm.yaml")
    write(tmp_path, "- op: replace\n  path: /spec/replicas\n  value: 3\n", "patch.yml")
    write(tmp_path, "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n", "multi.yaml")
    write(tmp_path, "resources: [cm.yaml]\npatches:\n  - path: patch.yml\n", "kustomization.yaml")
    inv = assert_same_as_ansible(tmp_path)
    assert list(inv.hosts) == ["gpu1"]
    skipped = {Path(p.file).name for p in inv.problems if p.severity == "warning" and "not an inventory" in p.message}
    assert skipped == {"cm.yaml", "patch.yml", "multi.yaml", "kustomization.yaml"}, messages(inv)
    write(tmp_path, "gpu:\n  hostz:\n    gpu2:\n  hosts:\n    gpu3:\n", "typo.yml")
    inv = read_inventory(tmp_path)
    assert any("typo.yml:2:3" in m and "unknown key 'hostz'" in m for m in messages(inv) if m.startswith("error")), \
        messages(inv)


@pytest.mark.parametrize("hosts", ["gpu1,gpu2,", "localhost,", "10.0.0.1, 10.0.0.2"])
def test_comma_host_lists_are_read_as_ansibles_host_list_plugin_reads_them(hosts, tmp_path, monkeypatch):
    """Issue #28 item 3: ``-i gpu1,gpu2,`` is no path: the working directory is not its directory (no
    warning about its group_vars/, which ansible-playbook does not read for a host list either)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "nogroup.yml").write_text("x: 1\n")
    inv = assert_same_as_ansible(Path(hosts))
    assert list(inv.hosts) == [h.strip() for h in hosts.split(",") if h.strip()]
    assert not inv.problems, messages(inv)
