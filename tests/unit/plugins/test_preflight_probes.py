"""preflight's PCI GPU scan and assessment. The sysfs tree is FAKE (built in tmp_path) because
this machine has no NVIDIA GPU; the real scan runs in molecule/base and on the GPU machine."""


from pathlib import Path

from ansible_collections.autoglm.provision.plugins.modules import autoglm_pci_gpus as pci
from ansible_collections.autoglm.provision.plugins.plugin_utils import preflight_assess as assess


def _dev(root, addr, vendor, cls, device="0x2330"):
    d = root / "bus/pci/devices" / addr
    d.mkdir(parents=True)
    (d / "vendor").write_text(vendor + "\n")
    (d / "class").write_text(cls + "\n")
    (d / "device").write_text(device + "\n")


def test_pci_scan_counts_only_nvidia_display_functions(tmp_path):
    _dev(tmp_path, "0000:18:00.0", "0x10de", "0x030200")  # H100: 3D controller
    _dev(tmp_path, "0000:19:00.0", "0x10de", "0x030000")  # VGA
    _dev(tmp_path, "0000:19:00.1", "0x10de", "0x040300")  # its HDMI audio: not a GPU
    _dev(tmp_path, "0000:00:02.0", "0x8086", "0x030000")  # Intel iGPU
    res = pci.scan(str(tmp_path))
    assert [g["address"] for g in res["gpus"]] == ["0000:18:00.0", "0000:19:00.0"]
    assert res["other_nvidia_functions"] == 1


def _measured(**kw):
    m = {"os_distribution": "Debian", "os_version": "12.11", "os_major": "12", "cpu_logical": 2,
         "cpu_available": 2, "ram_gb": 25.3, "gpus": [], "gpu_smi": [], "python_version": "3.11.2",
         "python_interpreter": "/usr/bin/python3",
         "storage": {"path": "/opt/autoglm", "probed_dir": "/opt", "path_exists": False, "free_bytes": 80e9,
                     "rotational": False, "block_device": "vda", "fs_type": "ext4", "source": "/dev/vda",
                     "read_gbps": 1.4, "read_method": "O_DIRECT", "read_bytes": 1 << 30}}
    m.update(kw)
    return m


PRODUCT = {"cpu_cores_minimum": 4, "cpu_cores_recommended": 8, "ram_gb_minimum": 16, "ram_gb_recommended": 32,
           "preprocess_cpus_recommended": 8, "disk_free_gb_minimum": 50, "disk_free_gb_recommended": 200,
           "storage_read_gbps_minimum": 0, "storage_read_gbps_recommended": 0.5, "gpu_count_minimum": 1,
           "gpu_memory_gb_minimum": 8, "gpu_memory_gb_recommended": 24, "gpu_compute_capability_minimum": "7.5",
           "python_version_minimum": "3.9", "python_version_maximum": "3.11"}


def test_two_cores_no_gpu_fails_with_measured_and_minimum():
    r = assess.preflight_assess(_measured(), dict(PRODUCT), PRODUCT)
    assert not r["qualified"]
    assert "CPU cores (logical): measured 2, minimum 4, recommended 8" in r["failures"]
    assert any(f.startswith("NVIDIA GPUs on the PCI bus: measured 0, minimum 1") for f in r["failures"])
    assert r["thresholds_lowered"] == []


def test_lab_thresholds_pass_and_are_reported_lowered():
    lab = dict(PRODUCT, cpu_cores_minimum=1, gpu_count_minimum=0)
    r = assess.preflight_assess(_measured(), lab, PRODUCT)
    assert r["qualified"]
    assert sorted(r["thresholds_lowered"]) == ["cpu_cores_minimum: 4 -> 1", "gpu_count_minimum: 1 -> 0"]
    assert any("thresholds lowered" in w for w in r["warnings"])


def test_gpu_memory_compute_capability_and_python_range():
    smi = [{"index": "0", "name": "Tesla T4", "memory_gb": 16.1, "compute_capability": "7.5"},
           {"index": "1", "name": "Tesla P100", "memory_gb": 17.2, "compute_capability": "6.0"}]
    m = _measured(cpu_logical=16, cpu_available=16, gpus=[{"address": "a", "device_id": "0x1eb8"}] * 2,
                  gpu_smi=smi, python_version="3.12.1")
    r = assess.preflight_assess(m, dict(PRODUCT), PRODUCT)
    assert "GPU 1 compute capability: measured 6.0, minimum 7.5" in r["failures"]
    assert any(f.startswith("Python for the venv: measured 3.12.1") for f in r["failures"])
    assert any(w.startswith("GPU 0 memory (Tesla T4): measured 16.1 GB") for w in r["warnings"])


def test_os_check_reads_the_common_roles_one_list():
    """preflight keeps no list of its own: every distribution of common__supported_os passes, the first
    is the product's target, and one outside the list fails naming the supported ones."""
    import yaml  # noqa: PLC0415

    common_vars = Path(assess.__file__).resolve().parents[2] / "roles" / "common" / "vars" / "main.yml"
    listed = yaml.safe_load(common_vars.read_text())["common__supported_os"]
    assert list(assess.supported_os()) == listed
    for key in listed:
        distribution, major = key.split("-")
        os_check = assess.preflight_assess(_measured(os_distribution=distribution, os_version=f"{major}.1",
                                                     os_major=major), dict(PRODUCT), PRODUCT)["checks"][0]
        assert os_check["status"] == "ok", os_check
    assert "the product's target" in assess.preflight_assess(
        _measured(os_distribution="Ubuntu", os_version="22.04", os_major="22"), dict(PRODUCT), PRODUCT)["checks"][0][
        "message"]
    rocky = assess.preflight_assess(_measured(os_distribution="Rocky", os_version="9.3", os_major="9"), dict(PRODUCT),
                                    PRODUCT)
    assert rocky["failures"][0] == ("OS: Rocky 9.3 (not supported: Ubuntu 22.04 is the target, Debian 12 supported)")
    assert rocky["checks"][0]["minimum"] == "Ubuntu 22.04 or Debian 12"
