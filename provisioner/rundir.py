"""Run directories: one per run, named ``<UTC timestamp>-<id>``, rotated, found again by id."""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

from . import paths
from .errors import UsageError

DEFAULT_KEEP = 50
LATEST = "latest"


def create(base: Path | None = None, keep: int = DEFAULT_KEEP) -> Path:
    base = base or paths.runs_dir()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)  # microseconds keep names in creation order for rotation
    run_id = f"{now:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}"
    run = base / run_id
    run.mkdir(mode=0o700)
    link = base / LATEST
    tmp = base / f".{LATEST}.{run_id}"
    tmp.symlink_to(run_id)
    os.replace(tmp, link)
    rotate(base, keep)
    return run


def list_runs(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and p.name[:1].isdigit())


def rotate(base: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` runs (0 keeps everything)."""
    runs = list_runs(base)
    doomed = runs[:-keep] if keep and len(runs) > keep else []
    for run in doomed:
        shutil.rmtree(run, ignore_errors=True)
    return doomed


def resolve(ref: str | None, base: Path | None = None) -> Path:
    """A run by directory path, full id, unique id prefix/suffix, or ``latest`` (the default)."""
    base = base or paths.runs_dir()
    ref = ref or LATEST
    candidate = Path(ref).expanduser()
    if candidate.is_dir() and (candidate / "report.json").exists():
        return candidate.resolve()
    if ref == LATEST:
        link = base / LATEST
        if link.exists():
            return link.resolve()
        raise UsageError(f"no runs recorded yet under {base}")
    matches = [r for r in list_runs(base) if r.name == ref or r.name.startswith(ref) or r.name.endswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        recent = ", ".join(r.name for r in list_runs(base)[-3:]) or "none"
        raise UsageError(f"no run {ref!r} under {base} (most recent: {recent})")
    raise UsageError(f"run {ref!r} is ambiguous under {base}: {', '.join(m.name for m in matches)}")
