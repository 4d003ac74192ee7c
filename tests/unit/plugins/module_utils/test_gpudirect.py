"""module_utils/gpudirect.py: the GPUDirect RDMA readers, on fixture hosts (tests/fixtures/gpudirect_host.py):
SYNTHESIZED sysfs trees holding the PCI functions of real lspci outputs, and the real ofed_info, modinfo and
dmesg outputs of tests/fixtures/gpudirect/ (sources in its README). No ConnectX NIC exists on this machine;
what a real host adds is said in docs/nvidia-driver.md, "GPUDirect RDMA"."""

from __future__ import annotations

import gzip

from ansible_collections.autoglm.provision.plugins.module_utils import gpudirect

from tests.fixtures.gpudirect_host import KERNEL, host, pci_function, text, tools, write


def test_connectx_functions_of_both_link_types_are_rdma_nics_and_others_are_not(tmp_path):
    host(tmp_path, lspci="lspci_connectx4_infiniband.txt")
    pci_function(tmp_path, "0000:b3:00.0", "0x15b3", "0x1017", "0x020000")  # ConnectX-5 (lspci #79)
    pci_function(tmp_path, "0000:b3:00.2", "0x15b3", "0x1018", "0x020000", physfn=True)  # its SR-IOV VF
    pci_function(tmp_path, "0000:c1:00.0", "0x15b3", "0xa2dc", "0x080600")  # BlueField-3 management function
    nics, ib_devices = gpudirect.rdma_nics(str(tmp_path))
    assert [(n["slot"], n["device_id"], n["link"]) for n in nics] == [
        ("0000:5e:00.0", "0x1013", "infiniband"), ("0000:5e:00.1", "0x1013", "infiniband"),
        ("0000:b3:00.0", "0x1017", "ethernet")]
    assert ib_devices == ["mlx5_0", "mlx5_1"]


def test_a_host_without_mellanox_functions_has_no_rdma_nic(tmp_path):
    host(tmp_path, lspci=None)
    assert gpudirect.rdma_nics(str(tmp_path)) == ([], [])
    assert gpudirect.rdma_nics(str(tmp_path / "no-sysfs")) == ([], [])


def test_p2pdma_from_boot_config_then_proc_config_gz(tmp_path):
    host(tmp_path, p2pdma=True)
    assert gpudirect.kernel_config(str(tmp_path), KERNEL, "CONFIG_PCI_P2PDMA") == ("y", f"/boot/config-{KERNEL}")
    other = tmp_path / "other"
    host(other, p2pdma=False)
    assert gpudirect.kernel_config(str(other), KERNEL, "CONFIG_PCI_P2PDMA")[0] == "n"
    bare = tmp_path / "bare"
    assert gpudirect.kernel_config(str(bare), KERNEL, "CONFIG_PCI_P2PDMA") == (None, None)
    (bare / "proc").mkdir(parents=True)
    with gzip.open(bare / "proc/config.gz", "wb") as handle:
        handle.write(b"CONFIG_DMA_SHARED_BUFFER=y\nCONFIG_PCI_P2PDMA=y\n")
    assert gpudirect.kernel_config(str(bare), KERNEL, "CONFIG_PCI_P2PDMA") == ("y", "/proc/config.gz")


def test_rdma_stack_names_ofed_and_ib_core_so_a_change_shows(tmp_path):
    host(tmp_path)
    stack = gpudirect.rdma_stack(str(tmp_path), tools())
    assert stack["ofed"] == "MLNX_OFED_LINUX-4.7-1.0.0.1"
    assert stack["id"] == "MLNX_OFED_LINUX-4.7-1.0.0.1 / ib_core 7A5DFE4E6B3D3E0A1C3B2F1"
    inbox = gpudirect.rdma_stack(str(tmp_path), tools(ofed=None))
    assert inbox["ofed"] is None and inbox["id"] == "ib_core 7A5DFE4E6B3D3E0A1C3B2F1"
    assert gpudirect.rdma_stack(str(tmp_path / "none"), tools(ofed=None))["id"] is None


def test_symbol_mismatches_are_read_for_the_module_asked_about():
    dmesg = text("dmesg_peermem_symbol_mismatch.txt")
    assert gpudirect.symbol_mismatches(dmesg, "nvidia-peermem") == [
        "ib_register_peer_memory_client", "ib_unregister_peer_memory_client"]
    older = text("dmesg_nv_peer_mem_symbol_mismatch.txt")
    assert gpudirect.symbol_mismatches(older, "nvidia-peermem") == []
    assert gpudirect.symbol_mismatches(older, "nv_peer_mem") == ["ib_register_peer_memory_client"]


def test_peermem_module_file_signer_loaded_and_nv_mem(tmp_path):
    host(tmp_path, peermem_loaded=True, nv_mem=True)
    module = gpudirect.peermem_module(str(tmp_path), KERNEL, "nvidia-peermem", tools())
    assert module == {"name": "nvidia-peermem", "file": "/lib/modules/4.15.0-46-generic/updates/dkms/nv_peer_mem.ko",
                      "signer": "", "loaded": True, "nv_mem": True}
    absent = gpudirect.peermem_module(str(tmp_path / "x"), KERNEL, "nvidia-peermem", tools(modinfo=None))
    assert absent["file"] is None and not absent["loaded"] and not absent["nv_mem"]


def test_probe_reads_everything_and_the_last_record(tmp_path):
    record = {"path": "peermem", "kernel": "6.8.0-40-generic", "stack": "MLNX_OFED_LINUX-4.6-1.0.1.1"}
    host(tmp_path, recorded=record)
    result = gpudirect.probe(str(tmp_path), KERNEL, "nvidia-peermem", tools(dmesg="dmesg_peermem_symbol_mismatch.txt"))
    assert [n["slot"] for n in result["nics"]] == ["0000:b3:00.0", "0000:b3:00.1"]
    assert result["p2pdma"] == "y" and result["peermem"]["file"].endswith("nv_peer_mem.ko")
    assert result["symbol_mismatches"] == ["ib_register_peer_memory_client", "ib_unregister_peer_memory_client"]
    assert result["recorded"] == record


def test_a_record_that_is_not_a_json_object_is_none(tmp_path):
    write(tmp_path, gpudirect.RECORD, "not json")
    assert gpudirect.recorded(str(tmp_path)) is None
    write(tmp_path, gpudirect.RECORD, "[1]")
    assert gpudirect.recorded(str(tmp_path)) is None


def test_the_kernel_log_is_read_only_on_a_host_with_an_rdma_nic(tmp_path):
    calls = []
    answer = tools(dmesg="dmesg_peermem_symbol_mismatch.txt")

    def run(cmd):
        calls.append(cmd[0])
        return answer(cmd)

    assert gpudirect.probe(str(host(tmp_path / "none", lspci=None)), KERNEL, "nvidia-peermem", run)["nics"] == []
    assert "dmesg" not in calls
    gpudirect.probe(str(host(tmp_path / "nic")), KERNEL, "nvidia-peermem", run)
    assert "dmesg" in calls
