"""Run one playbook through ansible-runner's Python API, with clean cancellation on
SIGINT/SIGTERM and runner artifacts kept free of the caller's secrets. Every event goes to the
caller's event sink (the playbook's through :mod:`provisioner.run.events`); what the run came to is
the returned :class:`RunOutcome`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ansible_runner

from .. import settings
from ..plan.options import RunOptions
from ..state import statedir
from ..state.orphans import RUN_ENV, Watchdog, kill_leftovers
from ..state.records import atomic_write_json, atomic_write_text, strip_url_credentials_of
from .events import EVENTS_FILE, EventFollower, stream_env

# Environment keys worth keeping in runner's "command" artifact; every other value is redacted
# (runner copies the whole caller environment there, tokens and passwords included).
SAFE_ENV_PREFIXES = ("ANSIBLE_", "LC_")
SAFE_ENV_KEYS = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "PWD", "SHELL", "TERM", "VIRTUAL_ENV",
                 "PYTHONPATH", "RUNNER_OMIT_EVENTS", "RUNNER_ONLY_FAILED_EVENTS", "AWX_ISOLATED_DATA_DIR",
                 "PYTHONUNBUFFERED", "ORIGINAL_STDOUT_CALLBACK", "AD_HOC_COMMAND_ID"}
# How often ansible-runner looks at the cancel callback (and answers prompts): runner reads this
# only from ``env/settings`` in the private data dir (a ``settings=`` argument is dropped when that
# file is absent), so a signal would otherwise wait up to 5 s while tasks keep starting.
RUNNER_SETTINGS = {"pexpect_timeout": 0.2,
                   # the output artifact is written by run_playbook, each line without URL credentials
                   "suppress_output_file": True}


def runner_arguments() -> dict:
    """ansible-runner arguments of every run the CLI makes. ``fact_cache_type="memory"``: runner's
    default is a jsonfile fact cache in the artifacts, which it forces on (over the caller's
    ``ANSIBLE_CACHE_PLUGIN``) and which costs the controller a JSON decode of the host's facts at
    every task (the largest part of the CLI's extra cost over ansible-playbook: bench/README.md,
    "The CLI with facts in memory"); memory is Ansible's own default, and the caller's setting, if
    any, stays."""
    return {"quiet": True, "suppress_env_files": True, "fact_cache_type": "memory"}


def write_runner_settings(private_data_dir: Path) -> None:
    """``env/settings``, the one place ansible-runner reads its settings from (:data:`RUNNER_SETTINGS`)."""
    env_dir = private_data_dir / "env"
    env_dir.mkdir(exist_ok=True, mode=0o700)
    atomic_write_json(env_dir / "settings", RUNNER_SETTINGS)


class Cancellation:
    """SIGINT/SIGTERM ask ansible-runner to stop (it kills the playbook's process group); a second
    SIGINT while stopping is honoured at once."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Cancellation:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __call__(self) -> bool:
        return self.requested is not None


def scrub_command_artifacts(private_data_dir: Path) -> None:
    for command_file in private_data_dir.glob("artifacts/*/command"):
        try:
            data = json.loads(command_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        env = data.get("env") or {}
        data["env"] = {k: (v if k in SAFE_ENV_KEYS or k.startswith(SAFE_ENV_PREFIXES) else "<redacted>")
                       for k, v in env.items()}
        atomic_write_text(command_file, json.dumps(data, ensure_ascii=False))  # 0600, no URL credentials


def _scrub_on_start(private_data_dir: Path):
    """ansible-runner's status_handler: runner writes the whole caller environment to its
    ``command`` artifact just before starting ansible-playbook; redact it at once."""

    def handler(status: dict, runner_config: object = None) -> None:
        if status.get("status") == "running":
            scrub_command_artifacts(private_data_dir)

    return handler


def ensure_ansible_on_path() -> None:
    """ansible-playbook is installed beside this interpreter (the CLI's venv), maybe not on PATH."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


class OutputArtifact:
    """runner's ``stdout`` artifact, written here (runner's own writer is off) one output line at a
    time without URL credentials; each line, as runner's ``verbose`` event, goes on to ``events``."""

    def __init__(self, path: Path, events: Callable[[dict], object]) -> None:
        self.path, self.events = path, events
        self.error: str | None = None

    def __enter__(self) -> OutputArtifact:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.handle = open(fd, "w", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in __exit__
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.handle.close()
        except OSError as error:  # the last lines could not be written
            self.error = self.error or f"{self.path} is incomplete: {error.strerror or error}"

    def __call__(self, event: dict) -> bool:
        if isinstance(event.get("stdout"), str):
            event["stdout"] = strip_url_credentials_of(event["stdout"])
            if self.error is None:
                try:
                    self.handle.write(event["stdout"] + "\n")
                except OSError as exc:  # a full disk: the run goes on, its report names what is missing
                    self.error = f"{self.path} is incomplete: {exc.strerror or exc}"
        self.events(event)  # ansible-playbook's output lines, as runner's "verbose" events (main thread)
        return False  # not kept one file per line by runner: the output is in this artifact


def start(*, private_data_dir: Path, playbook: Path, inventory: str | list[str], envvars: dict,
          options: RunOptions, event_handler: Callable[[dict], bool], cancel: Cancellation,
          **extra: object) -> ansible_runner.Runner:
    """The CLI's one call of ansible-runner (the run and the --probe-strict pre-flight): the playbook
    in its collection's directory, ``options`` as ansible-playbook's flags, passwords only in
    runner's memory, :func:`runner_arguments`; ``extra`` adds runner's ``ident`` and ``status_handler``."""
    ensure_ansible_on_path()
    return ansible_runner.run(
        private_data_dir=str(private_data_dir), project_dir=str(playbook.parent.parent), playbook=str(playbook),
        inventory=inventory, envvars=envvars, cmdline=shlex.join(options.cmdline()),
        passwords=options.prompt_answers() or None, verbosity=options.verbosity or None, rotate_artifacts=0,
        event_handler=event_handler, cancel_callback=cancel, **extra, **runner_arguments())


@dataclass
class RunOutcome:
    """How ansible-playbook ended: runner's status and rc, the time it took, why it was cut short
    (None when it was not) and, when it failed, Ansible's own error text from its output."""

    status: str
    rc: int | None
    duration_s: float
    interrupted: str | None = None
    early_error: str = ""
    unreadable_events: str = ""  # lines of events.jsonl that were no event: what the report may miss


def run_playbook(*, playbook: Path, inventory: Path | list[Path], host_count: int, options: RunOptions,
                 run_id: str, run_dir: Path, control_dir: Path, events: Callable[[dict], object]) -> RunOutcome:
    """Run ``playbook``, handing each event to ``events``: the playbook's events (runner's shape,
    from :mod:`provisioner.run.events`, in a thread of their own) and, from the calling thread,
    ansible-playbook's output lines as runner's ``verbose`` events. Extra vars reach it only
    through ``options.extra_vars_args`` (private files); passwords only through runner's memory
    (``suppress_env_files``: no env/ files)."""
    private_data_dir = run_dir / "runner"
    private_data_dir.mkdir(exist_ok=True, mode=0o700)
    write_runner_settings(private_data_dir)
    envvars = settings.runner_env(host_count)
    if options.forks:
        envvars["ANSIBLE_FORKS"] = str(options.forks)
    # SSH control sockets of this run: a short private dir (socket paths must stay < 108 bytes),
    # owned by the caller's scratch dir, which closes the masters and removes it at the end.
    envvars.setdefault("ANSIBLE_SSH_CONTROL_PATH_DIR", str(control_dir))
    sources = [str(p) for p in inventory] if isinstance(inventory, list) else str(inventory)

    events_file = private_data_dir / "artifacts" / run_id / EVENTS_FILE
    envvars.update(stream_env(events_file))
    envvars[RUN_ENV] = str(run_dir)  # every process of the run carries it: found again, whoever its parent

    started = time.monotonic()
    runner, interrupted, follower, printed = None, None, None, None
    try:
        with Cancellation() as cancel, EventFollower(events_file, events) as follower, \
                OutputArtifact(events_file.parent / "stdout", events) as printed, \
                Watchdog(str(control_dir.parent), run_dir):  # the run's processes die with this one
            runner = start(private_data_dir=private_data_dir, playbook=playbook, inventory=sources,
                           envvars=envvars, options=options, event_handler=printed, cancel=cancel,
                           ident=run_id, status_handler=_scrub_on_start(private_data_dir))
            if cancel.requested:
                interrupted = f"interrupted by {cancel.requested}: results are partial"
    except KeyboardInterrupt:
        interrupted = "interrupted twice: stopped at once, results are partial"
    finally:
        scrub_command_artifacts(private_data_dir)
        statedir.make_private(private_data_dir)  # runner writes its artifacts with the umask's modes
        if interrupted:
            kill_leftovers(str(control_dir.parent), str(run_dir))  # the scratch dir: in its command line
    outcome = RunOutcome(status=runner.status if runner is not None else "canceled",
                         rc=runner.rc if runner is not None else None,
                         duration_s=time.monotonic() - started, interrupted=interrupted)
    if printed is not None and printed.error:
        outcome.unreadable_events = printed.error
    if follower is not None and follower.unreadable and not interrupted:  # interrupted: a line cut short is expected
        outcome.unreadable_events = (f"{follower.unreadable} line(s) of {events_file} were not events: "
                                     "results they carried are missing from this report")
    if runner is not None and outcome.status not in ("successful", "canceled"):
        outcome.early_error = early_error_text(private_data_dir / "artifacts" / run_id / "stdout")
    return outcome


def early_error_text(stdout: Path, max_lines: int = 25) -> str:
    """Ansible's own error (a missing vault password, an unknown module, a syntax error) from the
    run's stdout: from its first ERROR line on, else the last lines."""
    if not stdout.is_file():
        return ""
    lines = [line.rstrip() for line in stdout.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("ERROR!", "[ERROR]"))), None)
    picked = lines[start:] if start is not None else lines
    return "\n".join(picked[:max_lines] if start is not None else picked[-max_lines:])

