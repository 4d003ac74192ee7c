"""Per-process CPU for fleet_scale.py: every Python process of a timed run (the CLI, ansible-playbook
and its forked workers) appends its own CPU seconds to $FLEET_CPU_LOG when it ends, by exit or by
os._exit (how Ansible's workers end). Loaded through PYTHONPATH only for the timed runs, the same
for every variant; there it shadows any sitecustomize of the system's Python (Debian 12's has none;
Ubuntu's is the apport crash hook, which the runs do not need). Cost: one getrusage and one short
append per process (about 1,050 worker processes per run at N=10)."""

import json
import os
import resource
import sys

_LOG = os.environ.get("FLEET_CPU_LOG")

if _LOG:
    _FIRST_PID = os.getpid()

    def _record() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        entry = {"pid": os.getpid(), "forked": os.getpid() != _FIRST_PID, "program": program,
                 "cpu_s": usage.ru_utime + usage.ru_stime}
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    import atexit

    atexit.register(_record)
    _os_exit = os._exit

    def _exit(code: int) -> None:
        try:
            _record()
        finally:
            _os_exit(code)

    os._exit = _exit
