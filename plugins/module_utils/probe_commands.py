# Apache-2.0. Standard library only: Ansible ships this file with the modules that import it.
"""The command runner of the read-only probes (nvidia_driver_facts, nvidia_gpudirect_facts,
nvidia_gds_facts): a missing tool is an answer (rc 127), not a module failure, since what a probe
cannot run is part of what it reports."""


def tolerant_runner(module):
    """run(cmd) -> (rc, stdout, stderr), rc 127 with "<tool> not found" where cmd[0] is not on PATH."""

    def run(cmd):
        if module.get_bin_path(cmd[0]) is None:
            return 127, "", f"{cmd[0]} not found"
        return module.run_command(cmd)

    return run
