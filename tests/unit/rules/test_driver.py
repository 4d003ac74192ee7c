"""The semantic inventory rule for the NVIDIA driver branch (provisioner/rules/driver.py)."""

from provisioner.rules import all_rules
from provisioner.rules.driver import check


def _vars(**kw):
    return kw


def test_default_535_branch_passes_cuda_118_and_h100():
    assert check("gpu1", _vars(nvidia_driver_branch="535", cuda_version="11.8",
                               nvidia_driver_gpu_models=["H100"])) == []


def test_rule_is_registered():
    assert check in all_rules()


def test_branch_below_cuda_118_minimum_is_rejected():
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="515", cuda_version="11.8"))
    assert finding.host == "gpu1"
    assert finding.variable == "nvidia_driver_branch"
    assert finding.value == "515"
    assert "520.61.05" in finding.message and "CUDA 11.8" in finding.message


def test_pinned_version_below_cuda_minimum_is_rejected_even_in_minimum_branch():
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="520", nvidia_driver_version="520.56.06",
                                     cuda_version="11.8"))
    assert finding.variable == "nvidia_driver_version"
    assert finding.value == "520.56.06"


def test_pinned_version_at_cuda_minimum_passes():
    assert check("gpu1", _vars(nvidia_driver_branch="520", nvidia_driver_version="520.61.05",
                               cuda_version="11.8")) == []


def test_unpinned_minimum_branch_passes_because_newest_release_is_installed():
    assert check("gpu1", _vars(nvidia_driver_branch="525", nvidia_driver_gpu_models=["H100"])) == []


def test_h100_rejects_520_branch_but_cuda_118_alone_accepts_it():
    assert check("gpu1", _vars(nvidia_driver_branch="520")) == []
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="520", nvidia_driver_gpu_models=["h100 SXM5"]))
    assert "H100" in finding.message.upper() and "525.60.13" in finding.message


def test_h100_rejects_pinned_525_below_minimum():
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="525", nvidia_driver_version="525.53.01",
                                     nvidia_driver_gpu_models=["H100"]))
    assert finding.variable == "nvidia_driver_version"


def test_both_cuda_and_gpu_problems_are_reported():
    findings = check("gpu1", _vars(nvidia_driver_branch="470", nvidia_driver_gpu_models=["H100"]))
    assert len(findings) == 2


def test_malformed_branch_and_pin_are_rejected_with_allowed_values():
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="latest"))
    assert finding.variable == "nvidia_driver_branch" and "3-digit" in finding.allowed
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="535", nvidia_driver_version="535"))
    assert finding.variable == "nvidia_driver_version"


def test_pin_from_another_branch_is_rejected():
    (finding,) = check("gpu1", _vars(nvidia_driver_branch="535", nvidia_driver_version="550.54.14"))
    assert finding.variable == "nvidia_driver_version" and "535." in finding.allowed


def test_integer_branch_from_yaml_is_accepted():
    assert check("gpu1", _vars(nvidia_driver_branch=535)) == []


def test_templated_values_are_left_to_ansible():
    assert check("gpu1", _vars(nvidia_driver_branch="{{ site_branch }}")) == []
    assert check("gpu1", _vars(nvidia_driver_branch="470", cuda_version="{{ x }}")) == []


def test_unknown_gpu_model_is_not_guessed():
    assert check("gpu1", _vars(nvidia_driver_branch="535", nvidia_driver_gpu_models=["MI300X"])) == []


def test_t4_and_the_other_current_skus_pass_on_the_default_branch():
    assert check("gpu1", _vars(nvidia_driver_branch="535", nvidia_driver_gpu_models=["T4", "L40S", "H200"])) == []


def test_b200_on_cuda_118_is_refused_with_the_reason_and_the_fix():
    findings = check("gpu7", _vars(nvidia_driver_branch="580", nvidia_driver_gpu_models=["B200"],
                                   nvidia_driver_kernel_module_type="proprietary"))
    by_var = {f.variable: f for f in findings}
    assert set(by_var) == {"cuda_version", "nvidia_driver_kernel_module_type"}
    cuda = by_var["cuda_version"]
    assert cuda.host == "gpu7" and cuda.value == "11.8"
    assert "B200" in cuda.message and "sm_100" in cuda.message and "CUDA >= 12.8" in cuda.message
    assert "CUDA 11.8 only" in cuda.allowed
    flavour = by_var["nvidia_driver_kernel_module_type"]
    assert flavour.value == "proprietary" and "open" in flavour.message


def test_open_modules_below_r515_are_refused_on_the_branch():
    findings = check("gpu1", _vars(nvidia_driver_branch="510", cuda_version="{{ later }}",
                                   nvidia_driver_kernel_module_type="open"))
    assert findings == []  # a templated CUDA version leaves the combination to Ansible
    findings = check("gpu1", _vars(nvidia_driver_branch="510", nvidia_driver_kernel_module_type="open"))
    assert [f.variable for f in findings] == ["nvidia_driver_branch", "nvidia_driver_branch"]
    assert "R515" in findings[1].message


def test_dmabuf_with_proprietary_modules_is_refused_with_the_fix():
    (finding,) = check("gpu1", _vars(nvidia_driver_gpudirect="dmabuf", nvidia_driver_kernel_module_type="proprietary"))
    assert finding.variable == "nvidia_driver_gpudirect" and finding.value == "dmabuf"
    assert "needs the open GPU kernel modules" in finding.message
    assert "nvidia_driver_kernel_module_type=open" in finding.message and "peermem" in finding.message


def test_gpudirect_requests_that_a_host_may_satisfy_pass():
    for requested in ("auto", "peermem", "off"):
        assert check("gpu1", _vars(nvidia_driver_gpudirect=requested,
                                   nvidia_driver_kernel_module_type="proprietary")) == []
    assert check("gpu1", _vars(nvidia_driver_gpudirect="dmabuf", nvidia_driver_kernel_module_type="open",
                               nvidia_driver_branch="580", nvidia_driver_gpu_models=["H100"])) == []


def test_unquoted_off_read_as_a_yaml_boolean_is_named():
    (finding,) = check("gpu1", _vars(nvidia_driver_gpudirect=False))
    assert finding.variable == "nvidia_driver_gpudirect" and "YAML boolean" in finding.message
    assert "'off' (quoted)" in finding.allowed


def test_gpudirect_finding_comes_with_the_branch_findings():
    findings = check("gpu1", _vars(nvidia_driver_gpudirect="dmabuf", nvidia_driver_branch="470"))
    assert {f.variable for f in findings} == {"nvidia_driver_gpudirect", "nvidia_driver_branch"}


def test_gds_with_proprietary_modules_or_a_branch_before_the_open_ones_is_refused():
    (finding,) = check("gpu1", _vars(nvidia_driver_gds=True, nvidia_driver_kernel_module_type="proprietary"))
    assert (finding.variable, finding.value) == ("nvidia_driver_gds", True)
    assert "needs the open GPU kernel modules" in finding.message and "proprietary" in finding.message
    findings = check("gpu1", _vars(nvidia_driver_gds=True, nvidia_driver_branch="470"))
    assert "start at branch 515" in next(f for f in findings if f.variable == "nvidia_driver_gds").message


def test_gds_that_a_host_may_satisfy_or_not_asked_passes():
    assert check("gpu1", _vars(nvidia_driver_gds=True, nvidia_driver_kernel_module_type="open")) == []
    assert check("gpu1", _vars(nvidia_driver_gds=True)) == []
    assert check("gpu1", _vars(nvidia_driver_gds=False, nvidia_driver_kernel_module_type="proprietary")) == []
    assert check("gpu1", _vars(nvidia_driver_gds=True, nvidia_driver_kernel_module_type="{{ flavour }}")) == []
