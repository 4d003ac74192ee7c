"""pcie_p2p over sysfs PCIe trees built by tests/fixtures/pcie_tree (each test says what it models).

Trees are fakes because a host whose ACS bits and IOMMU mode are switched between states cannot
exist here; the corpus of recorded lspci snapshots (test_acs_corpus.py) is the real-machine side."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.autoglm.provision.plugins.module_utils import p2p_verdict, pcie_acs, pcie_paths
from ansible_collections.autoglm.provision.plugins.modules import pcie_p2p

from tests.fixtures.pcie_tree import RR_CR_SV_UF, Fn, build, connectx, gpu, switch_host

ROOT_PORT = ("0x8086", "0x347a")


def verdict(root, **kw):
    return pcie_p2p.evaluate(str(root), **kw)["p2p"]


def test_switch_with_acs_off_passes(tmp_path):
    """HGX-style: 2 H100 + ConnectX-7 under one PEX switch, downstream ports ACSCtl all off,
    identity domains; the root port's redirect (kernel-set) is above the common bridge."""
    out = pcie_p2p.evaluate(str(switch_host(tmp_path, acs_ctl=0)))
    assert out["p2p"]["verdict"] == "PASS"
    eps = {ep["bdf"]: ep for ep in out["platform"]["endpoints"]}
    assert eps["0000:03:00.0"]["path"] == ["0000:02:00.0", "0000:01:00.0", "0000:00:01.0"]
    assert eps["0000:05:00.0"]["kind"] == "nic" and eps["0000:05:00.0"]["ats"] == {"present": True, "enabled": False}
    assert eps["0000:03:00.0"]["domain"] == "identity" and eps["0000:03:00.0"]["iommu_group"] == "10"
    assert out["platform"]["bridges"]["0000:01:00.0"]["acs"] is None


def test_redirect_on_switch_downstream_ports_fails_naming_bridges_bits_and_remedy(tmp_path):
    """Same board with the IOMMU on: the kernel set SrcValid/ReqRedir/CmpltRedir/UpstreamFwd."""
    res = verdict(switch_host(tmp_path, acs_ctl=RR_CR_SV_UF, sys_vendor="Supermicro"))
    assert (res["verdict"], res["cause"]) == ("FAIL", "acs_redirect")
    assert sorted(res["details"]["redirect_bridges"]) == ["0000:02:00.0", "0000:02:01.0", "0000:02:02.0"]
    assert res["details"]["redirect_bridges"]["0000:02:00.0"]["bits"] == ["ReqRedir", "CmpltRedir"]
    assert "0000:03:00.0<->0000:04:00.0" in res["details"]["redirect_bridges"]["0000:02:00.0"]["between"]
    assert "ACS Control = Disable" in res["remediation"] and "bios_check_acs_clear_redirect" in res["remediation"]
    assert "0000:00:01.0" not in res["details"]["redirect_bridges"]


def test_source_validation_fails_only_with_a_translated_domain(tmp_path):
    assert verdict(switch_host(tmp_path / "a", acs_ctl=0x01, domain="identity"))["verdict"] == "PASS"
    res = verdict(switch_host(tmp_path / "b", acs_ctl=0x01, domain="DMA"))
    assert res["verdict"] == "FAIL" and res["details"]["redirect_bridges"]["0000:02:00.0"]["bits"] == ["SrcValid"]


def test_translated_domain_without_redirect_warns_with_iommu_pt(tmp_path):
    res = verdict(switch_host(tmp_path, acs_ctl=0, domain="DMA-FQ"))
    assert (res["verdict"], res["cause"]) == ("WARN", "iommu_translated")
    assert "iommu=pt" in res["remediation"] and res["details"]["translated_domains"] == ["DMA-FQ"]


def test_gpus_on_separate_root_ports_judge_the_root_ports(tmp_path):
    """Two GPUs each directly below its own root port: no common bridge, the pair talks through the
    root complex, where the root ports' redirect applies to peer requests between root ports."""
    fns = [Fn("0000:00:01.0", None, *ROOT_PORT, acs_ctl=RR_CR_SV_UF), Fn("0000:00:02.0", None, *ROOT_PORT,
           acs_ctl=RR_CR_SV_UF), gpu("0000:01:00.0", "0000:00:01.0", 1), gpu("0000:02:00.0", "0000:00:02.0", 2)]
    res = verdict(build(tmp_path / "a", fns))
    assert res["verdict"] == "FAIL" and sorted(res["details"]["redirect_bridges"]) == ["0000:00:01.0", "0000:00:02.0"]
    for fn in fns[:2]:
        fn.acs_ctl = 0
    assert verdict(build(tmp_path / "b", fns))["verdict"] == "PASS"


def test_single_gpu_without_rdma_nic_reports_without_failing(tmp_path):
    res = verdict(switch_host(tmp_path / "a", acs_ctl=RR_CR_SV_UF, nic=False, gpus=1))
    assert (res["verdict"], res["cause"]) == ("NOT_APPLICABLE", "p2p_not_used")
    assert any("0000:02:00.0: ACSCtl SrcValid ReqRedir CmpltRedir" in e for e in res["evidence"])
    # Required P2P with one GPU: still no pair to judge, but the setting is honoured for the NIC case.
    res = verdict(switch_host(tmp_path / "b", acs_ctl=RR_CR_SV_UF, nic=True, gpus=1), require_p2p=True)
    assert res["verdict"] == "FAIL" and list(res["details"]["redirect_bridges"]) == ["0000:02:00.0", "0000:02:01.0"]


def test_no_gpu_is_not_applicable(tmp_path):
    fns = [Fn("0000:00:01.0", None, *ROOT_PORT, acs_ctl=RR_CR_SV_UF), connectx("0000:01:00.0", "0000:00:01.0")]
    assert verdict(build(tmp_path, fns))["cause"] == "no_gpu"


def test_extra_endpoint_is_walked_and_reported_not_judged(tmp_path):
    """A guest or a host whose NIC has no RDMA driver (virtio-net below a root port with the kernel's
    ACS bits on, identity domain): walked on request, reported with its path, ACS, group and ATS."""
    nic = Fn("0000:01:00.0", "0000:00:01.0", "0x1af4", "0x1041", "0x020000", group=3, driver="virtio-pci")
    fns = [Fn("0000:00:01.0", None, "0x1b36", "0x000c", acs_ctl=RR_CR_SV_UF), nic]
    out = pcie_p2p.evaluate(str(build(tmp_path, fns)), extra_endpoints=["0000:01:00.0"])
    (walked,) = out["platform"]["endpoints"]
    assert (walked["kind"], walked["path"], walked["iommu_group"], walked["domain"]) == (
        "other", ["0000:00:01.0"], "3", "identity")
    assert walked["ats"] == {"present": False, "enabled": False}
    assert out["platform"]["bridges"]["0000:00:01.0"]["acs"]["ctl"] == ["SrcValid", "ReqRedir", "CmpltRedir",
                                                                       "UpstreamFwd"]
    assert (out["p2p"]["verdict"], out["p2p"]["cause"]) == ("NOT_APPLICABLE", "no_gpu")
    assert any("1 other endpoint(s) walked on request" in e for e in out["p2p"]["evidence"])
    assert any(e.startswith("other 0000:01:00.0 0x1af4:0x1041 path 0000:00:01.0") for e in out["p2p"]["evidence"])
    assert pcie_p2p.evaluate(str(tmp_path))["platform"]["endpoints"] == []  # not asked: not walked
    with pytest.raises(ValueError, match="0000:09:00.0 are not PCI functions"):
        pcie_p2p.evaluate(str(tmp_path), extra_endpoints=["0000:09:00.0"])


def test_unreadable_config_is_unknown_not_pass(tmp_path):
    """Not root: the downstream ports' config reads 64 bytes."""
    fns = [Fn("0000:00:01.0", None, *ROOT_PORT), Fn("0000:01:00.0", "0000:00:01.0"),
           Fn("0000:02:00.0", "0000:01:00.0", acs_ctl=0, short_config=True),
           Fn("0000:02:01.0", "0000:01:00.0", acs_ctl=0, short_config=True),
           gpu("0000:03:00.0", "0000:02:00.0"), gpu("0000:04:00.0", "0000:02:01.0")]
    res = verdict(build(tmp_path, fns))
    assert (res["verdict"], res["cause"]) == ("UNKNOWN", "unreadable")
    assert res["details"]["unreadable_bridges"] == ["0000:02:00.0", "0000:02:01.0"]


def test_unassigned_gpu_bar_fails(tmp_path):
    """BAR1 with its size but start 0: the kernel could not place it (Above 4G off)."""
    bars = {0: (0xA8000000, 16 << 20, 0x40200), 1: (0, 128 << 30, 0x14220C)}
    fns = [Fn("0000:00:01.0", None, *ROOT_PORT), gpu("0000:01:00.0", "0000:00:01.0", bars=bars)]
    res = verdict(build(tmp_path, fns))
    assert res["cause"] == "bar_unassigned" and any("BAR1" in e for e in res["evidence"])


def test_clear_unit_is_reported_never_silent(tmp_path):
    root = switch_host(tmp_path, acs_ctl=0)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/autoglm-acs-clear.service").write_text("[Unit]\n")
    res = verdict(root)
    assert res["details"]["clear_unit"] and any("autoglm-acs-clear.service" in e for e in res["evidence"])


def test_rdma_nic_classification():
    base = {"virtual_function": False, "driver": None}
    assert pcie_paths.is_rdma_nic(dict(base, vendor="0x15b3", **{"class": "0x020000"}))
    assert pcie_paths.is_rdma_nic(dict(base, vendor="0x8086", **{"class": "0x020700"}))
    assert pcie_paths.is_rdma_nic(dict(base, vendor="0x8086", driver="irdma", **{"class": "0x020000"}))
    assert not pcie_paths.is_rdma_nic(dict(base, vendor="0x8086", driver="ice", **{"class": "0x020000"}))
    assert not pcie_paths.is_rdma_nic(dict(base, vendor="0x15b3", virtual_function=True, **{"class": "0x020000"}))


def test_below_common_bridge():
    assert p2p_verdict.below_common(["d0", "u", "r"], ["d1", "u", "r"]) == ["d0", "d1"]
    assert p2p_verdict.below_common(["d0", "r0"], ["d1", "r1"]) == ["d0", "r0", "d1", "r1"]


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="platform"):
        p2p_verdict.judge({"endpoints": []})
    assert verdict(tmp_path)["cause"] == "no_pci_bus"


def _bridge(bdf, sec, sub, ctl):
    return (f"{bdf} PCI bridge [0604]: PLX Technology, Inc. PEX 8747 [10b5:8747] (rev ca)\n"
            f"\tBus: primary={bdf[:2]}, secondary={sec}, subordinate={sub}, sec-latency=0\n"
            "\tCapabilities: [f24 v1] Access Control Services\n"
            "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+\n"
            f"\t\tACSCtl:\tSrcValid{ctl} TransBlk- ReqRedir{ctl} CmpltRedir{ctl} UpstreamFwd{ctl} EgressCtrl- "
            "DirectTrans-\n\n")


def test_lspci_topology_from_bus_ranges():
    """A full lspci -vvv: root port 00:02.0 > PEX 8747 upstream 02:00.0 > downstream 03:08.0 and
    03:10.0 > one GPU each; the tree comes from the Bus: lines, the verdict names the ports."""
    text = (_bridge("00:02.0", "02", "05", "+") + _bridge("02:00.0", "03", "05", "-")
            + _bridge("03:08.0", "04", "04", "+") + _bridge("03:10.0", "05", "05", "+")
            + "04:00.0 3D controller [0302]: NVIDIA Corporation GV100GL [Tesla V100 PCIe 32GB] [10de:1db6]\n\n"
            + "05:00.0 3D controller [0302]: NVIDIA Corporation GV100GL [Tesla V100 PCIe 32GB] [10de:1db6]\n")
    platform = pcie_paths.from_lspci(text)
    assert [ep["path"] for ep in platform["endpoints"]] == [
        ["0000:03:08.0", "0000:02:00.0", "0000:00:02.0"], ["0000:03:10.0", "0000:02:00.0", "0000:00:02.0"]]
    res = p2p_verdict.judge(platform)
    assert res["verdict"] == "FAIL" and sorted(res["details"]["redirect_bridges"]) == ["0000:03:08.0", "0000:03:10.0"]
    cleared = p2p_verdict.judge(pcie_paths.from_lspci(text.replace("SrcValid+ TransBlk- ReqRedir+ CmpltRedir+",
                                                                    "SrcValid- TransBlk- ReqRedir- CmpltRedir-")))
    assert cleared["verdict"] == "PASS"


CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "acs"


def _blocks(name):
    """The device blocks of a recorded snapshot (tests/fixtures/acs), keyed by their BDF."""
    text = (CORPUS / name).read_text()
    return {block.split(" ", 1)[0]: block for block in text.split("\n\n") if block.strip()}


def test_port_types_are_read_from_real_express_lines():
    """ASUS ESC8000 G4 (linuxhw/LsPCI): the Tesla K80's own PEX 8747, upstream port 1d:00.0 and
    downstream ports 1e:08.0 / 1e:10.0; Supermicro AS-4124GS-TNR: AMD GPP root port 00:01.1."""
    k80 = pcie_acs.parse_lspci((CORPUS / "linuxhw-asus-esc8000-g4-tesla-k80-pex8747-blocks.txt").read_text())
    assert [(f["bdf"], f["port_type"]) for f in k80["functions"]] == [
        ("0000:1d:00.0", "Upstream Port"), ("0000:1e:08.0", "Downstream Port"),
        ("0000:1e:10.0", "Downstream Port"), ("0000:1f:00.0", None), ("0000:20:00.0", None)]
    rome = pcie_acs.parse_lspci(
        (CORPUS / "linuxhw-supermicro-as4124gs-tnr-2x-quadro-rtx5000-blocks.txt").read_text())
    assert rome["functions"][0]["port_type"] == "Root Port"


def test_snapshot_cut_at_switch_ports_is_unknown_not_pass():
    """The K80's two GPUs share the switch's upstream port 1d:00.0, so their traffic turns around in
    the switch: the recorded downstream ports decide (ACS off: PASS). The same real blocks without
    1d:00.0 leave each GPU below a downstream port with nothing above it and no common bridge: the
    bridges that would carry the pair are not in the snapshot, so it cannot pass."""
    blocks = _blocks("linuxhw-asus-esc8000-g4-tesla-k80-pex8747-blocks.txt")
    whole = pcie_paths.from_lspci("\n\n".join(blocks.values()))
    assert [ep["path_complete"] for ep in whole["endpoints"]] == [False, False]
    assert p2p_verdict.judge(whole, require_p2p=True)["verdict"] == "PASS"
    cut = pcie_paths.from_lspci("\n\n".join(b for bdf, b in blocks.items() if bdf != "0000:1d:00.0"))
    res = p2p_verdict.judge(cut, require_p2p=True)
    assert (res["verdict"], res["cause"]) == ("UNKNOWN", "path_unknown")
    assert res["details"]["unknown_paths"] == ["0000:1f:00.0", "0000:20:00.0"]
    assert any("recorded only up to a switch port" in line for line in res["evidence"])


def test_redirect_on_a_cut_snapshot_still_fails():
    """Redirect bits seen on the recorded part fail even when the part above is missing (the bits of
    1e:08.0 are switched on here, in the test's copy; the fixture stays as recorded)."""
    text = "\n\n".join(b.replace("ReqRedir- CmpltRedir-", "ReqRedir+ CmpltRedir+") if bdf == "0000:1e:08.0"
                       else b for bdf, b in _blocks("linuxhw-asus-esc8000-g4-tesla-k80-pex8747-blocks.txt").items()
                       if bdf != "0000:1d:00.0")
    res = p2p_verdict.judge(pcie_paths.from_lspci(text), require_p2p=True)
    assert (res["verdict"], res["cause"]) == ("FAIL", "acs_redirect")
    assert list(res["details"]["redirect_bridges"]) == ["0000:1e:08.0"]
