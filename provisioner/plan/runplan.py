"""The run plan: everything decided before a host is contacted, in one immutable value. The input
layer makes it (:func:`provisioner.plan.prepare.prepare`), the run layer executes it
(:func:`provisioner.run.execute.execute`), as ansible-runner's ``RunnerConfig.prepare()`` and
``Runner.run()`` split their work."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import UsageError
from ..results.smoke import DEFAULT_THRESHOLD
from ..rules.rollout import parse_batch, parse_threshold
from ..state.rundir import DEFAULT_KEEP
from .extravars import Item
from .options import RunOptions
from .validate import ValidationResult

# The one map from what the CLI runs to the collection's playbook (in paths.PLAYBOOKS): the three
# actions, and the --probe-strict pre-flight's play (also the first play of site and smoke).
ACTION_PLAYBOOKS = {"site": "site.yml", "check": "check.yml", "smoke": "smoke.yml",
                    "reachability": "reachability.yml"}
ROLLOUT_CAPS = ("autoglm_batch", "autoglm_max_fail_percentage")


@dataclass(frozen=True)
class RunPlan:
    """One run of site, check or smoke, decided: its inputs validated, its hosts selected, its
    warnings found. The run layer reads it and changes nothing in it."""

    action: str
    playbook: Path
    inventory: Path  # the first source: what the report and the console name
    sources: tuple[Path, ...]  # every inventory source, as ansible-playbook gets them
    validation: ValidationResult  # the inventory as Ansible reads it
    targeted: tuple[str, ...]
    options: RunOptions  # ansible-playbook's flags, the -e items' redacted form included
    items: tuple[Item, ...]  # the -e items: each goes to Ansible as a private file when the run starts
    rollout: Mapping[str, object]  # autoglm_batch, autoglm_max_fail_percentage: from the flags or all's vars
    warnings: tuple[str, ...]
    retry_of: str | None = None  # --retry-failed's run: the targeted hosts go to Ansible as a limit file
    reachability_play: bool = False  # site/smoke's first play probes the hosts (off with --no-probe)
    strict_preflight: bool = False  # --probe-strict: the separate pre-flight, before anything runs
    smoke_level: str | None = None
    slow_threshold: float = DEFAULT_THRESHOLD
    as_json: bool = False
    runs_dir: Path | None = None  # where run directories go (--run-dir)
    keep_runs: int = DEFAULT_KEEP
    run_dir: Path | None = None  # made already: a run without an inventory writes its own there

    @property
    def host_count(self) -> int:
        return len(self.validation.inventory.hosts)


def action_playbook(action: str) -> Path:
    """The playbook ``action`` runs (a key of :data:`ACTION_PLAYBOOKS`)."""
    return paths.PLAYBOOKS / ACTION_PLAYBOOKS[action]


def rollout_vars(args: argparse.Namespace, result: ValidationResult) -> dict:
    """Batch and threshold from the flags, else from the inventory's ``all`` vars."""
    if not hasattr(args, "batch"):
        return {}
    inventory_vars = result.inventory.groups["all"].vars if "all" in result.inventory.groups else {}
    extravars: dict[str, object] = {}
    where = {name: f"{name} ({var.file}:{var.line})" for name, var in inventory_vars.items() if name in ROLLOUT_CAPS}
    batch_source = "--batch" if args.batch is not None else where.get("autoglm_batch", "autoglm_batch")
    raw = args.batch if args.batch is not None else getattr(inventory_vars.get("autoglm_batch"), "value", None)
    if (batch := parse_batch(raw, batch_source)) is not None:
        extravars["autoglm_batch"] = batch
    threshold_source = "--max-fail-percentage" if args.max_fail_percentage is not None \
        else "autoglm_max_fail_percentage"
    raw = args.max_fail_percentage if args.max_fail_percentage is not None \
        else getattr(inventory_vars.get("autoglm_max_fail_percentage"), "value", None)
    if (threshold := parse_threshold(raw, threshold_source)) is not None:
        extravars["autoglm_max_fail_percentage"] = threshold
    return extravars


def check_caps_outside_all(args: argparse.Namespace, result: ValidationResult, extra: set[str]) -> None:
    """A rollout cap that a group or host sets, unlike ``all``'s: the run passes only ``all``'s (Ansible's
    serial cannot differ by host), and playbooks/rollout_caps.yml would stop the run at its start."""
    caps = {"autoglm_batch": args.batch, "autoglm_max_fail_percentage": args.max_fail_percentage}
    all_vars = result.inventory.groups["all"].vars if "all" in result.inventory.groups else {}
    for name in (n for n, flag in caps.items() if flag is None and n not in extra):
        ours = (all_vars[name].file, all_vars[name].line) if name in all_vars else None
        for host in result.inventory.hosts:
            var = result.inventory.merged[host].get(name)
            if var is not None and (var.file, var.line) != ours:
                raise UsageError(f"{var.file}:{var.line or '?'}, host {host}, variable {name}: {var.value!r} is set "
                                 "for some hosts only; a rollout cap applies to the whole run: allowed: under all: "
                                 f"vars, or --{name.removeprefix('autoglm_').replace('_', '-')}; nothing was run")
