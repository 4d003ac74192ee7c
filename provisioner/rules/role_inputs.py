"""What the roles would reject on the host, rejected first by the roles' own code: the modprobe line
grammar and the preflight thresholds are the collection's plugin_utils (the logic behind the roles'
filters), imported here, not re-implemented."""

from __future__ import annotations

from collections.abc import Iterable

from provisioner import paths
from provisioner.rules import Finding, is_templated


def _templated(*values: object) -> bool:
    return any(is_templated(v) or (isinstance(v, list | dict) and is_templated(str(v))) for v in values)


def check(host: str, hostvars: dict) -> Iterable[Finding]:
    modprobe = paths.collection_module("plugin_utils.modprobe_conf")
    preflight = paths.collection_module("plugin_utils.preflight_assess")
    findings: list[Finding] = []
    options, blacklist = hostvars.get("modprobe_options"), hostvars.get("modprobe_blacklist", [])
    extra = hostvars.get("modprobe_extra_lines")
    if not _templated(options, blacklist, extra):
        try:
            modprobe.modprobe_conf_lines(options, blacklist, extra)
        except modprobe.ModprobeConfError as exc:
            text = str(exc)
            variable = next((v for v in ("modprobe_extra_lines", "modprobe_blacklist", "modprobe_options")
                             if text.startswith(v)), "modprobe_options")
            findings.append(Finding(host, variable, hostvars.get(variable),
                                    f"would fail the modprobe role: {text}", "modprobe.d(5) lines (see the message)"))
    values = {name: hostvars.get(name) for name in preflight.THRESHOLD_NAMES}
    if not _templated(*values.values()):
        for problem in preflight.preflight_threshold_problems(values):
            variable = problem.split("=", 1)[0].split("/", 1)[0]
            findings.append(Finding(host, variable, values.get(variable),
                                    f"would fail the preflight role: {problem.split(': allowed')[0]}",
                                    problem.split(": allowed ", 1)[-1] if ": allowed " in problem else ""))
    return findings
