"""Numeric ranges of role variables that a type spec cannot say: timeouts and retries that cannot be
negative, fractions that must stay within (0, 1]. Each bound names what is allowed.

The gpu_smoke bounds mirror that role's own input assert (roles/gpu_smoke/tasks/main.yml), which
is not Python and so cannot be imported: keep the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable

from provisioner.rules import Finding, is_templated

# variable -> (lowest, lowest included, highest, highest included)
BOUNDS: dict[str, tuple[float | None, bool, float | None, bool]] = {
    "gpu_smoke_memtest_fraction": (0, False, 0.95, True),
    "gpu_smoke_burn_tolerance": (0, False, 1, False),
    "gpu_smoke_burn_minutes": (0, False, None, True),
    "gpu_smoke_timeout_s": (0, True, None, True),
    "gpu_smoke_expected_gpu_count": (0, True, None, True),
    "gpu_smoke_min_memory_gib": (0, True, None, True),
    "gpu_smoke_max_temperature_c": (0, False, None, True),
    "bios_check_bmc_timeout": (0, False, None, True),
    "nvidia_driver_reboot_timeout": (0, False, None, True),
    **{f"common_apt_{name}": (0, True, None, True)
       for name in ("cache_valid_time", "lock_timeout", "retries", "retry_delay")},
    "common_apt_timeout": (0, False, None, True),
}


def allowed(low: float | None, low_in: bool, high: float | None, high_in: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_in else '>'} {low:g}")
    if high is not None:
        parts.append(f"{'<=' if high_in else '<'} {high:g}")
    return "a number " + " and ".join(parts)


def check(host: str, hostvars: dict) -> Iterable[Finding]:
    findings = []
    for name, (low, low_in, high, high_in) in BOUNDS.items():
        value = hostvars.get(name)
        if value is None or isinstance(value, bool) or is_templated(value):
            continue
        try:
            number = float(str(value).strip())
        except ValueError:
            continue  # the type spec reports it
        too_low = low is not None and (number < low or (number == low and not low_in))
        too_high = high is not None and (number > high or (number == high and not high_in))
        if too_low or too_high:
            findings.append(Finding(host, name, value, f"{value!r} is out of range",
                                    allowed(low, low_in, high, high_in)))
    return findings
