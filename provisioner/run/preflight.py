"""Reachability pre-flight through Ansible's own connection layer: a one-task play
(playbooks/reachability.yml: ``ping`` with the host's Python, becoming root as the run does) run by
ansible-runner with the run's inventory sources, settings and credentials, so ssh_config ``Include``,
``ProxyJump``, ``@cert-authority`` known_hosts, ports, users, ``ansible_ssh_common_args`` and become
behave exactly as in the run. Each host's first failure is sorted into the categories of
:data:`provisioner.reachability.CATEGORIES` from Ansible's own messages."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from rich.console import Console

from .. import settings, specs
from ..inventory.inventory import Inventory
from ..plan import extravars
from ..plan.options import RunOptions
from ..plan.runplan import RunPlan, action_playbook
from ..reachability import REACHABILITY_TASK, SSH_CONNECTIONS, ProbeResult, categorise
from ..state.orphans import Watchdog
from ..views.reachability import render_table
from .events import EVENTS_FILE, EventFollower, stream_env
from .runner import Cancellation, start
from .scratch import Scratch, close_ssh_masters

CONNECT_TIMEOUT_S = 10


def _message(res: dict) -> str:
    parts = [str(res.get(key, "")) for key in ("msg", "module_stderr", "stderr", "module_stdout")]
    return " ".join(p.strip() for p in parts if p and p.strip())


def ssh_hosts(inv: Inventory, targeted: list[str]) -> list[str]:
    """The targeted hosts Ansible reaches over SSH (local and container connections are left out)."""
    keep = []
    for name in targeted:
        connection = inv.merged_vars(name).get("ansible_connection")
        if connection is None or connection.value in SSH_CONNECTIONS:
            keep.append(name)
    return keep


def _where(inv: Inventory, name: str, user: str | None) -> tuple[str, int, str]:
    merged = {k: v.value for k, v in inv.merged_vars(name).items()}
    address = merged.get("ansible_host") or merged.get("ansible_ssh_host") or name
    try:
        port = int(merged.get("ansible_port") or merged.get("ansible_ssh_port") or 22)
    except (TypeError, ValueError):
        port = 22
    return str(address), port, str(merged.get("ansible_user") or user or "")


def _probe_env(host_count: int, options: RunOptions, events_file: Path, control_dir: Path) -> dict[str, str]:
    """The run's runner environment, with the pre-flight's connect timeout (the run's, at most
    CONNECT_TIMEOUT_S), its own SSH control directory and the event stream into ``events_file``."""
    envvars = settings.runner_env(host_count)
    try:
        timeout = int(os.environ.get("ANSIBLE_TIMEOUT") or envvars.get("ANSIBLE_TIMEOUT") or CONNECT_TIMEOUT_S)
    except ValueError:
        timeout = CONNECT_TIMEOUT_S
    envvars["ANSIBLE_TIMEOUT"] = str(min(timeout, CONNECT_TIMEOUT_S))
    if options.forks:
        envvars["ANSIBLE_FORKS"] = str(options.forks)
    envvars["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)
    envvars.update(stream_env(events_file))
    return envvars


def _results(inv: Inventory, hosts: list[str], user: str | None, outcome: dict[str, tuple[str, str, float]],
             elapsed: float) -> list[ProbeResult]:
    results = []
    for name in hosts:
        address, port, login = _where(inv, name, user)
        category, detail, seconds = outcome.get(name, ("error", "Ansible reported no result for this host "
                                                       "(see -vvv)", elapsed))
        results.append(ProbeResult(name, category == "ok", category, detail, seconds, address, port, login))
    return results


def probe_with_ansible(inv: Inventory, hosts: list[str], options: RunOptions, scratch: Scratch,
                       extra_vars_args: list[str] | tuple = ()) -> list[ProbeResult]:
    """Run the pre-flight play on ``hosts``; one ProbeResult per host, in the order given. Extra vars
    come as the run's private ``@file`` arguments; passwords stay in memory (no runner env/ files).
    Its files (runner's private data dir, the SSH control sockets) live in ``scratch``, the run's
    locked scratch directory, never in $TMPDIR: killed with ``kill -9``, the CLI leaves them where the
    next run's start sweeps them (:func:`provisioner.run.scratch.sweep`)."""
    if not hosts:
        return []
    started = time.monotonic()
    outcome: dict[str, tuple[str, str, float]] = {}

    def on_event(event: dict) -> None:
        data = event.get("event_data", {})
        host, kind = data.get("host"), event.get("event", "")
        if host and host not in outcome and kind == "runner_on_ok" and data.get("task", "") == REACHABILITY_TASK:
            outcome[host] = ("ok", "login, Python and become work through Ansible's connection",
                             time.monotonic() - started)
        elif host and host not in outcome and kind in ("runner_on_failed", "runner_on_unreachable"):
            text = _message(data.get("res") or {})
            outcome[host] = (categorise(text), f"{data.get('task', '')}: {text}"[:400],
                             time.monotonic() - started)

    private = scratch.path / "probe"
    private.mkdir(mode=0o700)
    try:
        limit = private / "hosts.limit"
        limit.write_text("".join(f"{h}\n" for h in hosts), encoding="utf-8")
        events_file = private / EVENTS_FILE
        envvars = _probe_env(len(hosts), options, events_file, scratch.control_dir)
        probe_options = RunOptions(limit=f"@{limit}", private_key=options.private_key, user=options.user,
                                   extra_vars_args=list(extra_vars_args), become_password=options.become_password,
                                   vault_password=options.vault_password,
                                   vault_password_file=options.vault_password_file)
        # SIGINT/SIGTERM/SIGHUP stop the play; the caller reports the cancel. kill -9 of the CLI: the
        # watchdog stops every process whose command line names this private dir (the limit file), and
        # their descendants, as it does for the run's.
        with Cancellation() as cancel, EventFollower(events_file, on_event), Watchdog(str(private), private):
            runner = start(private_data_dir=private, playbook=action_playbook("reachability"),
                           inventory=[str(s) for s in inv.sources], envvars=envvars, options=probe_options,
                           event_handler=lambda event: False, cancel=cancel)
        if runner.rc and len(outcome) < len(hosts):  # the play itself failed: say why, for every host left
            tail = " ".join(runner.stdout.read().strip().splitlines()[-3:])[:400]
            outcome.update({h: ("error", f"the pre-flight play failed: {tail}", time.monotonic() - started)
                            for h in hosts if h not in outcome})
    finally:
        close_ssh_masters(scratch.control_dir)
        shutil.rmtree(private, ignore_errors=True)
    if cancel.requested:
        raise KeyboardInterrupt(cancel.requested)
    return _results(inv, hosts, options.user, outcome, time.monotonic() - started)


def strict_preflight(plan: RunPlan, console: Console) -> list[ProbeResult]:
    """The separate SSH reachability pre-flight, for --probe-strict only: nothing runs unless every
    targeted SSH host passes. Otherwise the playbook's own first play (reachability.yml) probes the
    hosts inside the run, without a second ansible-playbook process (bench/README.md: its cost)."""
    if not plan.strict_preflight:
        return []
    hosts = ssh_hosts(plan.validation.inventory, list(plan.targeted))
    if not hosts:
        return []
    started = time.monotonic()
    with Scratch() as scratch:  # -e values as private files, as for the run itself
        if scratch.swept:
            console.print(scratch.swept_warning(), style="yellow", markup=False)
        probes = probe_with_ansible(plan.validation.inventory, hosts, plan.options, scratch,
                                    extravars.handed_to_ansible(list(plan.items), specs.variable_types(), scratch.path))
    failed = [p for p in probes if not p.ok]
    console.print(f"reachability pre-flight: {len(probes) - len(failed)} of {len(probes)} SSH host(s) ready "
                  f"in {time.monotonic() - started:.1f} s", markup=False)
    if failed:
        console.print(render_table(probes))
    return probes
