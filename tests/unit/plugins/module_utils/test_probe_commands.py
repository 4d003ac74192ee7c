"""The read-only probes' command runner: a missing tool is an answer (rc 127), a present one runs."""

from types import SimpleNamespace

from ansible_collections.autoglm.provision.plugins.module_utils.probe_commands import tolerant_runner


def test_a_missing_tool_answers_127_and_a_present_one_runs():
    ran = []
    module = SimpleNamespace(  # AnsibleModule's two methods the runner uses; the real ones need a module run
        get_bin_path=lambda name: "/usr/bin/modinfo" if name == "modinfo" else None,
        run_command=lambda cmd: ran.append(cmd) or (0, "signer: x\n", ""),
    )
    run = tolerant_runner(module)
    assert run(["mokutil", "--sb-state"]) == (127, "", "mokutil not found") and ran == []
    assert run(["modinfo", "-F", "signer", "nvidia"]) == (0, "signer: x\n", "")
    assert ran == [["modinfo", "-F", "signer", "nvidia"]]
