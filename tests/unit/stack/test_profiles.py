"""Profiles, locks and the compatibility matrix of the python_venv role (provisioner.stack.profiles,
provisioner.stack.locks) and its inventory rule (provisioner.rules.python_stack). Real data: the
role's own profiles.yml, compatibility.yml and committed locks; nothing is faked."""

from __future__ import annotations

import pytest

from provisioner.rules import all_rules
from provisioner.rules import python_stack as rule
from provisioner.stack import locks
from provisioner.stack import profiles as python_stack

BUILTINS = python_stack.builtin_profiles()


def messages(findings):
    return " | ".join(f"{f.variable}: {f.message} (allowed: {f.allowed})" for f in findings)


def test_rule_is_registered():
    assert rule.check in all_rules()


@pytest.mark.parametrize("name", ["cu118-torch2.7", "legacy-torch2.0.1"])
def test_real_profiles_are_coherent_for_cuda_118(name):
    assert BUILTINS[name].cuda == "11.8"
    assert list(rule.check("gpu1", {"python_venv_profile": name})) == []


def test_default_profile_is_the_last_cu118_torch_line_with_companions():
    profile = BUILTINS["cu118-torch2.7"]
    assert profile.packages["torch"] == "2.7.1+cu118"
    assert profile.packages["torchvision"] == "0.22.1+cu118"
    assert profile.packages["torchaudio"] == "2.7.1+cu118"
    assert profile.torch_index_url == "https://download.pytorch.org/whl/cu118"
    assert set(python_stack.STACK_PACKAGES) <= set(profile.packages)


def test_legacy_profile_is_the_guides_pair():
    packages = BUILTINS["legacy-torch2.0.1"].packages
    assert (packages["torch"], packages["transformers"]) == ("2.0.1+cu118", "4.30.0")


def test_ci_profile_needs_the_cuda_check_relaxed():
    findings = list(rule.check("ci", {"python_venv_profile": "ci-cpu"}))
    assert "CPU build of torch" in messages(findings)
    assert list(rule.check("ci", {"python_venv_profile": "ci-cpu",
                                  "python_venv_require_cuda_build": False})) == []


def test_unknown_profile_names_the_allowed_ones():
    (finding,) = rule.check("gpu1", {"python_venv_profile": "cu121"})
    assert finding.variable == "python_venv_profile" and finding.value == "cu121"
    assert "cu118-torch2.7" in finding.allowed and "legacy-torch2.0.1" in finding.allowed


def test_cuda_version_mismatch_is_rejected_and_follows_cuda_version():
    found = messages(rule.check("gpu1", {"python_venv_profile": "cu118-torch2.7", "cuda_version": "12.1",
                                         "python_venv_cuda_version": "{{ cuda_version }}"}))
    assert "built for CUDA 11.8 but the host gets CUDA 12.1" in found
    assert "torch 2.7 has no CUDA 12.1 build" in found


def site_profile(**packages):
    base = {"torch": "2.7.1+cu118", "torchvision": "0.22.1+cu118", "torchaudio": "2.7.1+cu118",
            "transformers": "4.57.6", "accelerate": "1.10.1", "datasets": "4.0.0",
            "sentencepiece": "0.2.1", "nvidia-ml-py": "13.615.71"}
    base.update(packages)
    return {"packages": base, "cuda": "11.8", "python": ["3.9", "3.10", "3.11"],
            "lock": "/nonexistent/site.txt"}


def check_site(profile, **extra):
    hostvars = {"python_venv_profile": "site", "python_venv_extra_profiles": {"site": profile}, **extra}
    return messages(rule.check("gpu7", hostvars))


def test_guide_1131_pair_has_no_cuda_118_build():
    found = check_site(site_profile(torch="1.13.1+cu118", torchvision="0.14.1+cu118",
                                    torchaudio="0.13.1+cu118", transformers="4.25.0",
                                    accelerate="0.20.3"))
    assert "torch 1.13 has no CUDA 11.8 build (its builds: 11.6, 11.7)" in found
    assert "torch 1.13 has no wheels for Python 3.11" in found
    assert "python_venv_extra_profiles.site" in found


def test_mismatched_guide_pair_is_rejected():
    found = check_site(site_profile(torch="2.0.1+cu118", torchvision="0.15.2+cu118",
                                    torchaudio="2.0.2+cu118", transformers="4.36.0",
                                    accelerate="0.20.3"))
    assert "not the guide's pair" in found and "transformers 4.30.x with torch 2.0" in found


def test_transformers_5_needs_python_310_and_torch_22():
    found = check_site(site_profile(transformers="5.0.0"))
    assert "transformers 5.0.0 needs Python >= 3.10, the profile lists 3.9" in found
    old_torch = check_site(site_profile(torch="2.1.2+cu118", torchvision="0.16.2+cu118",
                                        torchaudio="2.1.2+cu118"))
    assert "transformers 4.57.6 needs torch >= 2.2" in old_torch


def test_companions_must_match_torch_line_and_build():
    found = check_site(site_profile(torchvision="0.21.0+cu118", torchaudio="2.7.1+cu126"))
    assert "torchvision 0.21.0+cu118 does not belong to torch 2.7" in found
    assert "torchaudio 2.7.1+cu126 and torch 2.7.1+cu118 are different builds" in found


def test_torch_without_cu118_build_and_python_outside_range():
    profile = site_profile(torch="2.8.0+cu118", torchvision="0.23.0+cu118", torchaudio="2.8.0+cu118")
    profile["python"] = ["3.8", "3.12"]
    found = check_site(profile)
    assert "torch 2.8 has no CUDA 11.8 build" in found
    assert "outside the product's range" in found and "3.9-3.11" in found


def test_expected_python_must_be_one_the_profile_was_locked_for():
    found = messages(rule.check("ci", {"python_venv_profile": "ci-cpu", "python_venv_require_cuda_build": False,
                                       "python_venv_python_version": "3.10"}))
    assert "the host's Python 3.10 is not one profile ci-cpu was locked for (3.11)" in found


def test_site_profile_may_not_shadow_a_builtin_and_needs_an_absolute_lock():
    found = messages(rule.check("gpu7", {"python_venv_extra_profiles": {"ci-cpu": site_profile()}}))
    assert "reuses the name of a built-in profile" in found
    relative = site_profile()
    relative["lock"] = "site.txt"
    assert "lock is not an absolute path" in check_site(relative)
    assert "lock file /nonexistent/site.txt is missing" in check_site(site_profile())


def test_templated_values_are_left_to_ansible():
    assert list(rule.check("gpu1", {"python_venv_profile": "{{ my_profile }}"})) == []


# ---------------------------------------------------------------- locks


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_committed_locks_pin_their_profile(name):
    profile = BUILTINS[name]
    text = (locks.LOCK_DIR / profile.lock).read_text()
    assert locks.check_lock(profile, text) == []
    entries = locks.parse_lock(text)
    assert len(entries) > len(profile.packages)  # the closure, not just the top level


def test_ci_lock_is_fully_hash_pinned_and_has_the_cpu_torch_wheel():
    entries = locks.parse_lock((locks.LOCK_DIR / "ci-cpu.txt").read_text())
    assert all(e["hashes"] for e in entries)
    torch = next(e for e in entries if e["name"] == "torch")
    assert torch["version"] == "2.13.0+cpu"
    assert torch["hashes"] == ["sha256:6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b"]


def test_cu118_lock_carries_the_cu11_runtime_and_no_cu12_wheels():
    names = {e["name"] for e in locks.parse_lock((locks.LOCK_DIR / "cu118-torch2.7.txt").read_text())}
    assert "nvidia-cudnn-cu11" in names and "triton" in names
    assert not any(n.endswith("-cu12") for n in names)


def test_lock_parser_reads_markers_hashes_and_refuses_ranges():
    text = ('# comment\nnumpy==2.0.2 ; python_version == "3.9" \\\n    --hash=sha256:aa \\\n'
            '    --hash=sha256:bb\ntorch==2.7.1+cu118\n')
    entries = locks.parse_lock(text)
    assert entries[0] == {"name": "numpy", "version": "2.0.2", "marker": 'python_version == "3.9"',
                          "hashes": ["sha256:aa", "sha256:bb"]}
    assert entries[1]["version"] == "2.7.1+cu118" and entries[1]["hashes"] == []
    with pytest.raises(ValueError, match="not an exact pin"):
        locks.parse_lock("numpy>=1.0\n")


def test_check_lock_reports_drift_and_missing_hashes():
    profile = BUILTINS["ci-cpu"]
    text = (locks.LOCK_DIR / "ci-cpu.txt").read_text().replace("transformers==4.57.6",
                                                                      "transformers==4.57.5")
    assert any("transformers at 4.57.5, the profile at 4.57.6" in p for p in locks.check_lock(profile, text))
    unhashed = "\n".join(f"{n}=={v}" for n, v in profile.packages.items())
    assert any("requires hashes" in p for p in locks.check_lock(profile, unhashed))


def test_render_lock_merges_python_versions_with_markers():
    profile = python_stack.Profile(name="t", packages={"a": "1"})
    text = locks.render_lock(profile, {
        "3.9": {"a": ("1", "h1"), "numpy": ("2.0.2", "n9")},
        "3.10": {"a": ("1", "h1"), "numpy": ("2.2.6", "n10")},
        "3.11": {"a": ("1", "h2"), "numpy": ("2.2.6", "n11")},
    }, "")
    entries = {(e["name"], e["version"]): e for e in locks.parse_lock(text)}
    assert entries[("a", "1")]["marker"] == "" and entries[("a", "1")]["hashes"] == ["sha256:h1", "sha256:h2"]
    assert entries[("numpy", "2.0.2")]["marker"] == 'python_version == "3.9"'
    assert entries[("numpy", "2.2.6")]["marker"] == 'python_version == "3.10" or python_version == "3.11"'


def test_stand_in_swaps_cu12_runtime_for_the_cu118_one():
    profile = BUILTINS["cu118-torch2.7"]
    closure = {"torch": ("2.7.1", "x"), "nvidia-cudnn-cu12": ("9.5.1.17", "y"), "nvidia-ml-py": ("13.615.71", "z"),
               "numpy": ("2.2.6", "w")}
    result = locks.stand_in(profile, closure)
    assert result["torch"] == ("2.7.1+cu118", "")
    assert "nvidia-cudnn-cu12" not in result and result["nvidia-cudnn-cu11"] == ("9.1.0.70", "")
    assert result["nvidia-ml-py"] == ("13.615.71", "") and result["numpy"] == ("2.2.6", "")
