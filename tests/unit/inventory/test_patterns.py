from pathlib import Path

from provisioner.inventory.inventory import read_inventory
from provisioner.inventory.patterns import select


def inv(tmp_path: Path):
    path = tmp_path / "hosts.yml"
    path.write_text("""all:
  children:
    gpu:
      children:
        rack_a: {hosts: {a1.dc: , a2.dc: }}
        rack_b: {hosts: {b1.dc: , b2.dc: }}
    canary: {hosts: {a1.dc: }}
""")
    return read_inventory(path)


def test_names_groups_wildcards_regex_exclusion_intersection(tmp_path):
    i = inv(tmp_path)
    assert select(i, None) == ["a1.dc", "a2.dc", "b1.dc", "b2.dc"]
    assert select(i, "rack_a") == ["a1.dc", "a2.dc"]
    assert select(i, "b1.dc,rack_a") == ["a1.dc", "a2.dc", "b1.dc"]
    assert select(i, "gpu:!canary") == ["a2.dc", "b1.dc", "b2.dc"]
    assert select(i, "gpu:&rack_b") == ["b1.dc", "b2.dc"]
    assert select(i, "*2.dc") == ["a2.dc", "b2.dc"]
    assert select(i, "~^b") == ["b1.dc", "b2.dc"]
    assert select(i, "rack_*") == ["a1.dc", "a2.dc", "b1.dc", "b2.dc"]
    assert select(i, "gpu", limit_hosts=["b2.dc", "a1.dc"]) == ["a1.dc", "b2.dc"]
