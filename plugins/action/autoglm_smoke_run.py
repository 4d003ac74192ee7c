"""Action of autoglm.provision.autoglm_smoke_run: the GPU smoke program, built, run and read in one task.

The zipapp is built in this (controller) process from the files the collection carries (its root's
autoglm_smoke/, built by that folder's build.py), sent to Ansible's remote temporary directory and
run there with one shell command per step (no Python module on the host): the interpreter looked
for (the preferred one, else the fallback), a scratch directory for
the JSON (made as the become user), the program under coreutils ``timeout`` (which kills its
process group on the host when the time is up), the JSON read back, the scratch and the remote
temporary directory removed. The JSON is written to ``fetch_dir`` on the controller when given.

An interrupted run never reaches this action's ``finally``: ansible-runner kills ansible-playbook and
the CLI sends SIGTERM to the worker, whose handler exits at once. So the host's own shell guards the
program (:func:`guarded_command`): on SIGHUP (the SSH session hung up), SIGINT or SIGTERM (the
worker's process group signalled) it stops the program and removes the scratch and the remote
temporary directory itself. What no guard sees (a run stopped between its steps, a host shell
killed with SIGKILL) the next run on the host sweeps before it makes its scratch directory
(:func:`sweep_command`) and lists in its result (``swept``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.autoglm.provision.plugins.plugin_utils.host_files import host_file_name

# After the time limit, TERM to the program's process group; KILL this long after if it is still there.
KILL_AFTER_S = 30
TIMEOUT_RC = 124  # coreutils timeout: the program was stopped at the limit
KILLED_RC = 128 + 9  # the program (or timeout, after --kill-after) ended by SIGKILL
SCRATCH_PREFIX = "autoglm-gpu-smoke."
PROGRAM = "autoglm_smoke.pyz"
REPORT = "result.json"  # in the scratch directory
OWNER = "owner.pid"  # in the scratch directory: the pid of the host shell that runs the program
# A scratch directory unchanged this long whose owner shell is gone is a killed run's (see sweep_command).
STALE_MINUTES = 10
SWEPT = "swept "  # how sweep_command names each directory it removed, one a line
# in the scratch directory: the path of Ansible's remote temporary directory that holds this run's
# zipapp, so that a sweep removes it too (only a directory named ansible-tmp-*, as Ansible names them)
REMOTE_TMP = "remote_tmp"
# The collection's root (this file is plugins/action/ in it) and the smoke program it carries there.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE_BUILD = os.path.join(COLLECTION_ROOT, "autoglm_smoke", "build.py")

ARGUMENT_SPEC = {
    "interpreter": {"type": "str", "required": True},
    "fallback_interpreter": {"type": "str", "default": ""},
    "args": {"type": "list", "elements": "str", "default": []},
    "timeout": {"type": "int", "required": True},
    "fetch_dir": {"type": "str", "default": ""},
}


def load_smoke_build(path: str = SMOKE_BUILD):
    """The smoke program's build module, loaded from its file in the collection this action belongs
    to, never an installed autoglm_smoke package: the collection stands alone."""
    if not os.path.isfile(path):
        raise AnsibleActionFail(
            f"the GPU smoke program is missing from the autoglm.provision collection (no {path}): reinstall "
            "the collection from its tarball (ansible-galaxy collection install) or the autoglm-provision package"
        )
    spec = importlib.util.spec_from_file_location("autoglm_smoke_collection_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_zipapp(directory: str) -> str:
    """The zipapp built from the collection's files (reproducible and cheap to build, so never
    cached: bench/README.md, cli_overhead.py)."""
    build = load_smoke_build()
    try:
        return build.build(os.path.join(directory, PROGRAM))
    except build.BuildError as exc:  # a missing requirement, named with how to get it
        raise AnsibleActionFail(f"cannot build the GPU smoke program: {exc}") from exc


def write_json(fetch_dir: str, host: str, content: str) -> str:
    """The host's JSON in fetch_dir, private whatever the umask, named by host_file_name so that
    no host name leaves the directory or shares a file with another."""
    os.makedirs(fetch_dir, mode=0o700, exist_ok=True)
    path = os.path.join(fetch_dir, host_file_name(host) + ".json")
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(content)
    os.replace(tmp, path)
    return path


def run_failure(rc: int, stderr: str, timeout: int) -> str:
    """Why the program's exit status is a failed task ("" when it is not: 0 pass, 1 a failed verdict,
    which the role judges)."""
    if rc == TIMEOUT_RC:
        return (f"the GPU smoke program did not finish within {timeout} s; "
                "its processes on the host were stopped (timeout)")
    if rc == KILLED_RC:
        return ("the GPU smoke program was killed (SIGKILL: still running "
                f"{KILL_AFTER_S} s after the time limit's TERM, or the kernel's out-of-memory killer)")
    if rc not in (0, 1):  # anything else a crash
        last = stderr.strip().splitlines()[-1:]
        return f"the GPU smoke program crashed (rc {rc})" + (f": {last[0]}" if last else "")
    return ""


def guarded_command(program: str, leftovers: list[str], quote, scratch: str = "") -> str:
    """``program`` in the background of the host's shell, which waits for it and answers with its exit
    status. On SIGHUP, SIGINT or SIGTERM the shell sends TERM to it (to `timeout`, which passes it on to
    the program's process group), removes ``leftovers`` at once (a program stuck in the driver may take
    until `timeout`'s KILL, and the shell itself may be killed 3 s after its TERM), then waits for it
    and exits with 128 + the signal. The shell writes its pid to ``scratch``/owner.pid first and touches
    ``scratch`` when the program ends, so that a later run's :func:`sweep_command` knows it for ours
    while it lives and for a fresh one just after."""
    remove = " ".join(quote(path) for path in leftovers)
    owner, mark_end = "", ""
    if scratch:
        owner = f"echo $$ > {quote(scratch + '/' + OWNER)}; "
        mark_end = f"; autoglm_smoke_rc=$?; touch {quote(scratch)} 2>/dev/null; exit $autoglm_smoke_rc"
    # The shell's own messages (dash's "Terminated" for a killed child) go nowhere: its stderr is a pipe
    # to the worker, which a signal ends too, and a write there would end the shell by SIGPIPE before
    # its trap had removed anything; the program's stderr (fd 3) stays the worker's. The traps come
    # next: a signal before them ends the shell and leaves the files to the next run's sweep.
    return (f"exec 3>&2 2>/dev/null; autoglm_smoke_stop() {{ kill -TERM \"$autoglm_smoke_pid\" 2>/dev/null; "
            f"rm -rf -- {remove}; wait \"$autoglm_smoke_pid\"; exit \"$1\"; }}; "
            "trap 'autoglm_smoke_stop 129' HUP; trap 'autoglm_smoke_stop 130' INT; "
            "trap 'autoglm_smoke_stop 143' TERM; "
            f"{owner}{program} 2>&3 3>&- & autoglm_smoke_pid=$!; wait \"$autoglm_smoke_pid\"{mark_end}")


def sweep_command(remote_tmp: str = "") -> str:
    """Remove the scratch directories that killed runs left in the host's TMPDIR (the moments before
    and after the program, when only this action's separate shell commands use the directory, or a
    host shell killed with SIGKILL), then make this run's: prints ``swept DIR`` for each one removed,
    then the new directory, with ``remote_tmp`` (shell-quoted) recorded in it. Only ours: named
    ``autoglm-gpu-smoke.*``, a directory (not a link) owned by this (become) user; only stale ones:
    unchanged for STALE_MINUTES (the steps around the program take seconds) and whose owner shell
    (owner.pid) is not running (``kill -0``; a running one is a run that lasts, a burn test, kept
    however old). A pid reused by another process keeps the directory: the safe side. The Ansible
    remote temporary directory that its REMOTE_TMP file names (the zipapp's) goes with it, if named
    ansible-tmp-* as Ansible names them."""
    return ("find \"${TMPDIR:-/tmp}\" -mindepth 1 -maxdepth 1 -name '" + SCRATCH_PREFIX + "*' -type d "
            f"-user \"$(id -u)\" -mmin +{STALE_MINUTES} 2>/dev/null | while IFS= read -r autoglm_old; do "
            f"if [ -f \"$autoglm_old/{OWNER}\" ] && kill -0 \"$(cat \"$autoglm_old/{OWNER}\")\" 2>/dev/null; "
            "then continue; fi; "
            f"if [ -f \"$autoglm_old/{REMOTE_TMP}\" ]; then autoglm_zip=$(cat \"$autoglm_old/{REMOTE_TMP}\"); "
            "case \"${autoglm_zip##*/}\" in ansible-tmp-*) [ -d \"$autoglm_zip\" ] && "
            f"rm -rf -- \"$autoglm_zip\" && echo \"{SWEPT}$autoglm_zip\";; esac; fi; "
            f"rm -rf -- \"$autoglm_old\" && echo \"{SWEPT}$autoglm_old\"; done; "
            f"autoglm_new=$(mktemp -d -t {SCRATCH_PREFIX}XXXXXXXXXX) || exit 1; "
            # best effort: on a full file system the run goes on and says so where it fails
            + (f"{{ printf '%s\\n' {remote_tmp} > \"$autoglm_new/{REMOTE_TMP}\"; }} 2>/dev/null; "
               if remote_tmp else "")
            + "echo \"$autoglm_new\"")


def disk_full_hint(error: str, directory: str, elsewhere: str = "") -> str:
    """What to do when ``error`` says the host's file system is full ("" when it does not say so)."""
    if "No space left on device" not in error and "Disk quota exceeded" not in error:
        return ""
    return f" (the host's file system of {directory} is full: free space there{elsewhere})"


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _requires_connection = True

    def _host(self, command: str) -> dict:
        return self._low_level_execute_command(command, sudoable=True)

    def _upload_program(self, remote_tmp: str) -> str:
        """The zipapp built here, sent to the remote temporary directory: its path there."""
        with tempfile.TemporaryDirectory(prefix="autoglm-smoke-build.") as local_dir:
            program = self._connection._shell.join_path(remote_tmp, PROGRAM)
            built = build_zipapp(local_dir)
            try:
                self._transfer_file(built, program)
            except AnsibleError as exc:
                hint = disk_full_hint(str(exc), remote_tmp, ", or set remote_tmp (ansible_remote_tmp) to another one")
                if not hint:
                    raise
                raise AnsibleActionFail(f"cannot send the GPU smoke program to {program}{hint}: {exc}") from exc
        self._fixup_perms2((remote_tmp, program))
        return program

    def _interpreter(self, args: dict) -> str:
        """The preferred interpreter unless the become user cannot execute it (then the fallback)."""
        interpreter = args["interpreter"]
        if args["fallback_interpreter"]:
            found = self._host(f"test -x {self._connection._shell.quote(interpreter)}")
            interpreter = interpreter if found["rc"] == 0 else args["fallback_interpreter"]
        return interpreter

    def _make_scratch(self, result: dict, remote_tmp: str) -> str:
        """This run's scratch directory, made after sweeping killed runs' (listed in ``result["swept"]``),
        naming ``remote_tmp`` (where the zipapp goes next) for a later sweep, should this run be killed."""
        made = self._host(sweep_command(self._connection._shell.quote(remote_tmp)))
        lines = made["stdout"].strip().splitlines()
        result["swept"] = [line[len(SWEPT):] for line in lines if line.startswith(SWEPT)]
        scratch = lines[-1].strip() if lines else ""
        if made["rc"] != 0 or not scratch.startswith("/"):
            raise AnsibleActionFail(
                f"could not create a scratch directory on the host: {made['stderr'] or made['stdout']}"
            )
        return scratch

    def _read_report(self, json_path: str, program_stderr: str) -> tuple[str, str]:
        """(the program's JSON, why it cannot be used: "" when it can)."""
        read = self._host(f"cat {self._connection._shell.quote(json_path)}")
        if read["rc"] != 0:
            said = (program_stderr.strip().splitlines() or [""])[-1]  # the program's last word: why it wrote none
            hint = disk_full_hint(said, os.path.dirname(os.path.dirname(json_path)))
            return "", (f"the GPU smoke program wrote no JSON report{hint}: {read['stderr'].strip()}"
                        + (f"; the program said: {said}" if said else ""))
        try:
            json.loads(read["stdout"])
        except ValueError as exc:
            return "", f"the GPU smoke program's JSON report is not JSON: {exc}"
        return read["stdout"], ""

    def _run_program(self, args: dict, interpreter: str, program: str, scratch: str, result: dict) -> None:
        """The program under `timeout`, guarded (:func:`guarded_command`), its exit status and output in
        ``result``."""
        quote = self._connection._shell.quote
        argv = ["timeout", f"--kill-after={KILL_AFTER_S}", f"{args['timeout']}s",
                interpreter, program, *args["args"], "--json-out", f"{scratch}/{REPORT}"]
        env = self._compute_environment_string()
        command = " ".join(part for part in (env, " ".join(map(quote, argv))) if part)
        remote_tmp = os.path.dirname(program)  # Ansible's remote temporary directory, made for this task
        ran = self._host(guarded_command(command, [scratch, remote_tmp], quote, scratch))
        result.update(changed=False, cmd=argv, rc=ran["rc"], stdout=ran["stdout"], stderr=ran["stderr"],
                      stdout_lines=ran["stdout"].splitlines(), stderr_lines=ran["stderr"].splitlines())

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True  # read-only: the host keeps nothing
        self._supports_async = False  # the time limit is enforced on the host by `timeout`
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["timeout"] <= 0:
            raise AnsibleActionFail(f"timeout must be > 0 seconds, got {args['timeout']}")
        host = (task_vars or {}).get("inventory_hostname", "")
        remote_tmp = self._connection._shell.tmpdir or self._make_tmp_path()
        scratch = ""
        try:
            scratch = self._make_scratch(result, remote_tmp)  # first: it records where the zipapp goes
            program = self._upload_program(remote_tmp)
            result["interpreter"] = interpreter = self._interpreter(args)
            self._run_program(args, interpreter, program, scratch, result)
            failure = run_failure(result["rc"], result["stderr"], args["timeout"])
            report = ""
            if not failure:
                report, failure = self._read_report(f"{scratch}/{REPORT}", result["stderr"])
            if failure:
                result.update(failed=True, msg=failure)
                return result
            # Set, not left out: Ansible counts a result with a non-zero rc and no `failed` as failed.
            result["failed"] = False
            result["json"] = report
            result["json_file"] = write_json(args["fetch_dir"], host, report) if args["fetch_dir"] else ""
            return result
        finally:
            if scratch.startswith("/") and os.path.basename(scratch).startswith(SCRATCH_PREFIX):
                self._host(f"rm -rf {self._connection._shell.quote(scratch)}")
            self._remove_tmp_path(remote_tmp)
