#!/usr/bin/python
"""Free space, backing device, rotational flag and sequential read throughput of a path."""

from __future__ import annotations

DOCUMENTATION = r"""
module: autoglm_storage_probe
short_description: Storage facts and measured sequential read throughput of the model path
description:
  - Probes the nearest existing directory of I(path) (the data path may not exist yet).
  - Reports free space, the mount, its block device and whether it is rotational (from sysfs).
  - With I(measure), writes a test file of I(size_mb) MiB there, drops it from the page cache
    (fsync + posix_fadvise DONTNEED), reads it back sequentially (O_DIRECT where the filesystem
    allows it) and removes it; the read rate is reported in GB/s (10^9 bytes/s).
  - The test file is created and removed in check mode too; the measurement is the point of
    the read-only qualification, and it leaves nothing behind. A cancelled run (SIGTERM, SIGHUP,
    SIGINT) still removes it; a test file left by a probe that was killed outright (SIGKILL) is
    removed by the next probe of that directory.
options:
  path: {type: path, required: true, description: The model/data path.}
  measure: {type: bool, default: true, description: Measure read throughput.}
  size_mb: {type: int, default: 1024, description: Size of the test file in MiB.}
"""

EXAMPLES = r"""
- name: Probe the model path's storage and measure its sequential read rate
  autoglm.provision.autoglm_storage_probe:
    path: /srv/models
    measure: true
    size_mb: 1024
  register: storage

- name: Storage facts only (no test file)
  autoglm.provision.autoglm_storage_probe:
    path: /srv/models
    measure: false
"""

RETURN = r"""
path:
  description: The path asked about.
  returned: always
  type: str
probed_dir:
  description: The nearest existing directory of I(path), where the probe ran.
  returned: always
  type: str
path_exists:
  description: Whether I(path) itself exists.
  returned: always
  type: bool
free_bytes:
  description: Bytes free to an unprivileged user.
  returned: always
  type: int
total_bytes:
  description: Size of the filesystem.
  returned: always
  type: int
mount_point:
  description: The mount holding I(probed_dir).
  returned: always
  type: str
fs_type:
  description: Its filesystem type.
  returned: always
  type: str
source:
  description: Its mount source.
  returned: always
  type: str
block_device:
  description: The backing block device (sysfs name), when one is found.
  returned: always
  type: str
rotational:
  description: Whether that device is rotational; null when unknown.
  returned: always
  type: bool
read_gbps:
  description: Sequential read rate in GB/s (10^9 bytes/s); null when not measured.
  returned: always
  type: float
read_skipped_reason:
  description: Why the read was not measured; null when it was.
  returned: always
  type: str
stale_test_files_removed:
  description: Test files of killed earlier probes removed from I(probed_dir).
  returned: always
  type: list
  elements: str
read_bytes:
  description: Bytes read back.
  returned: when measured
  type: int
read_seconds:
  description: Time the read took.
  returned: when measured
  type: float
read_method:
  description: How the file was read (O_DIRECT or buffered after dropping the page cache).
  returned: when measured
  type: str
test_file_bytes:
  description: Size of the test file.
  returned: when measured
  type: int
"""

import contextlib
import mmap
import os
import signal
import time

CHUNK = 8 * 1024 * 1024
TEST_FILE_PREFIX = ".autoglm-preflight-readtest-"
CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _cancelled(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through measure_read's finally: the test file goes


@contextlib.contextmanager
def cleanup_on_cancel():
    """While the test file exists, a cancelling signal still runs the finally that removes it."""
    previous = {sig: signal.signal(sig, _cancelled) for sig in CANCEL_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def remove_stale_test_files(directory: str) -> list[str]:
    """Test files of probes that no longer run (killed outright): removed, and named."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TEST_FILE_PREFIX):
            continue
        pid = name[len(TEST_FILE_PREFIX):]
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                continue  # its probe still runs
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, name))
            removed.append(os.path.join(directory, name))
    return removed


def nearest_existing_dir(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    return path


def mount_of(path: str, mountinfo: str = "/proc/self/mountinfo") -> dict:
    """The mountinfo entry whose mount point is the longest prefix of path."""
    best: dict = {}
    with open(mountinfo) as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            point = fields[4].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(
                best.get("mount_point", "")
            ):
                best = {"mount_point": point, "dev": fields[2], "fs_type": tail[0], "source": tail[1]}
    return best


def rotational_of(dev: str, source: str, sysfs_root: str = "/sys") -> tuple[str | None, bool | None]:
    """(block device name, rotational) for a MAJ:MIN, else from the mount source; None if unknown."""
    candidates = []
    if dev and not dev.startswith("0:"):
        candidates.append(os.path.join(sysfs_root, "dev/block", dev))
    if source.startswith("/dev/"):
        candidates.append(os.path.join(sysfs_root, "class/block", os.path.basename(os.path.realpath(source))))
    for node in candidates:
        node = os.path.realpath(node)
        for queue in (os.path.join(node, "queue/rotational"), os.path.join(node, "../queue/rotational")):
            try:
                with open(queue) as fh:
                    value = fh.read().strip()
            except OSError:
                continue
            name = os.path.basename(node if os.path.exists(os.path.join(node, "queue")) else os.path.dirname(node))
            return name, value == "1"
    return None, None


def measure_read(directory: str, size_mb: int) -> dict:
    path = os.path.join(directory, f"{TEST_FILE_PREFIX}{os.getpid()}")
    block = os.urandom(CHUNK)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for _ in range(max(1, size_mb * 1024 * 1024 // CHUNK)):
                os.write(fd, block)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        size = os.path.getsize(path)
        method = "O_DIRECT"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        except OSError:
            method, fd = "buffered after fadvise(DONTNEED)", os.open(path, os.O_RDONLY)
        buf = mmap.mmap(-1, CHUNK)  # page aligned, as O_DIRECT needs
        try:
            start, done = time.monotonic(), 0
            while True:
                try:
                    n = os.readv(fd, [buf])
                except OSError:  # O_DIRECT refused at read time (some filesystems)
                    if method != "O_DIRECT":
                        raise
                    os.close(fd)
                    method, fd = "buffered after fadvise(DONTNEED)", os.open(path, os.O_RDONLY)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    start, done = time.monotonic(), 0
                    continue
                if n == 0:
                    break
                done += n
            seconds = max(time.monotonic() - start, 1e-9)
        finally:
            os.close(fd)
            buf.close()
        return {
            "read_gbps": round(done / seconds / 1e9, 3),
            "read_bytes": done,
            "read_seconds": round(seconds, 3),
            "read_method": method,
            "test_file_bytes": size,
        }
    finally:
        if os.path.exists(path):
            os.unlink(path)


def probe(path: str, measure: bool, size_mb: int) -> dict:
    directory = nearest_existing_dir(path)
    st = os.statvfs(directory)
    mount = mount_of(directory)
    device, rotational = rotational_of(mount.get("dev", ""), mount.get("source", ""))
    result = {
        "path": path,
        "probed_dir": directory,
        "path_exists": directory == os.path.abspath(path),
        "free_bytes": st.f_bavail * st.f_frsize,
        "total_bytes": st.f_blocks * st.f_frsize,
        "mount_point": mount.get("mount_point"),
        "fs_type": mount.get("fs_type"),
        "source": mount.get("source"),
        "block_device": device,
        "rotational": rotational,
        "read_gbps": None,
        "read_skipped_reason": None,
        "stale_test_files_removed": remove_stale_test_files(directory) if measure else [],
    }
    if not measure:
        result["read_skipped_reason"] = "disabled (preflight_storage_read_test=false)"
    elif result["free_bytes"] < 2 * size_mb * 1024 * 1024:
        result["read_skipped_reason"] = f"less than twice the {size_mb} MiB test file free"
    else:
        with cleanup_on_cancel():
            result.update(measure_read(directory, size_mb))
    return result


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "measure": {"type": "bool", "default": True},
            "size_mb": {"type": "int", "default": 1024},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["size_mb"] < 1:
        module.fail_json(msg=f"size_mb={p['size_mb']}: must be at least 1")
    try:
        module.exit_json(changed=False, **probe(p["path"], p["measure"], p["size_mb"]))
    except OSError as exc:
        module.fail_json(msg=f"storage probe of {p['path']} failed: {exc}")


if __name__ == "__main__":
    main()
