"""Fleet scale: the product's idempotent `site` re-run against N real SSH targets, set against plain
`ansible-playbook` with Ansible's defaults and with the product's own settings; and the apt
traffic that N hosts cause upstream when the controller runs an apt cache.

Targets are systemd containers of the project's image (tests/integration/sshd_targets.py), each
with sshd on its own podman bridge address, reached over real SSH as root with a generated key
and a known_hosts file written from the containers' own host keys (host key checking stays on).

    .venv/bin/python bench/fleet_scale.py --sizes 5,10,20 --repeat 3

Steps: start max(sizes) containers and an apt-cacher-ng on the bridge gateway (cold cache);
converge them once through the CLI (apt_sources_proxy_url points at the cache) and count the
bytes the cache fetched upstream vs the bytes it served; re-run once to check idempotence; then
time, alternating the order per repetition, for every N:
  (a) `autoglm-provision site INV --plain`
  (b) `ansible-playbook` with Ansible's defaults (empty cwd: no ansible.cfg; only the roles,
      library and module_utils paths set, which the playbook cannot run without)
  (c) `ansible-playbook` with provisioner.settings.runner_env(N) (cwd = repo, like the runner)
All three get the same inventory (lab thresholds for a 2-core container host in its vars), the
same --tags/--skip-tags and the same extra vars. Every run gets a fresh SSH ControlPath dir whose masters
are closed afterwards, as the CLI does, so no variant inherits another's connections.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner import paths, settings  # noqa: E402
from tests.integration.sshd_targets import SshdFleet  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PLAYBOOK = paths.PLAYBOOKS / "site.yml"
GATEWAY = "10.88.0.1"  # podman's default bridge: the controller as seen from the containers
# The roles that run in a container on this machine, named so the set stays fixed while site.yml
# grows ("untagged" = host_facts). Left out: nvidia_driver (no GPU, no kernel modules to build),
# cuda (2.4 GB per host), python_venv (torch wheels per host, needs PyPI through the site CA),
# gpu_smoke (no GPU). Passed identically to every variant.
DEFAULT_TAGS = "untagged,preflight,bios_check,apt_sources,kernel,firmware,ipmi,modprobe"
LAB_VARS = {  # a 2-core, GPU-less container must pass the gates (the molecule base scenario's values)
    "preflight_cpu_cores_minimum": 1, "preflight_gpu_count_minimum": 0,
    "preflight_disk_free_gb_minimum": 5, "preflight_storage_read_test_mb": 64,
    "preflight_ram_gb_minimum": 1, "bios_check_enforce": False,
}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
TUNING = {  # experiments on top of (c), at the largest N: what each setting is worth here
    "c_free": {"ANSIBLE_STRATEGY": "free"},
    "c_nopipelining": {"ANSIBLE_PIPELINING": "False"},
    "c_forks5": {"ANSIBLE_FORKS": "5"},
    "c_factcache": {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "86400"},
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


class AptCache:
    """apt-cacher-ng on the bridge gateway with its own config, cache and log dirs (cold cache)."""

    def __init__(self, workdir: Path, port: int):
        self.dir = workdir / "apt-cacher-ng"
        self.port = port
        self.url = f"http://{GATEWAY}:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not shutil.which("apt-cacher-ng"):
            raise SystemExit("apt-cacher-ng is not installed: apt-get install apt-cacher-ng (or --no-apt-cache)")
        shutil.rmtree(self.dir, ignore_errors=True)
        conf = self.dir / "conf"
        shutil.copytree("/etc/apt-cacher-ng", conf)
        # The packaged default backend (ftp.debian.org) is not reachable from every site; deb.debian.org is.
        (conf / "backends_debian").write_text("http://deb.debian.org/debian/\n")
        for sub in ("cache", "log"):
            (self.dir / sub).mkdir(parents=True)
        self.proc = subprocess.Popen(
            ["apt-cacher-ng", "-c", str(conf), "ForeGround=1", f"Port={self.port}", f"BindAddress={GATEWAY}",
             f"CacheDir={self.dir / 'cache'}", f"LogDir={self.dir / 'log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)
        if self.proc.poll() is not None:
            raise SystemExit(f"apt-cacher-ng exited at start (rc {self.proc.returncode}); port {self.port} taken?")

    def traffic(self) -> dict[str, int]:
        """Bytes from the transfer log: I = fetched upstream, O = served to the hosts."""
        totals = {"upstream_bytes": 0, "served_bytes": 0, "upstream_files": 0, "served_files": 0}
        log = self.dir / "log" / "apt-cacher.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            parts = line.split("|")
            if len(parts) >= 3 and parts[1] in ("I", "O") and parts[2].isdigit():
                kind = "upstream" if parts[1] == "I" else "served"
                totals[f"{kind}_bytes"] += int(parts[2])
                totals[f"{kind}_files"] += 1
        return totals

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def write_inventory(path: Path, fleet: SshdFleet, count: int, extra_vars: dict) -> Path:
    import yaml

    hosts = {h.name: {"ansible_host": h.address} for h in fleet.hosts[:count]}
    group_vars = {"ansible_user": "root", "ansible_ssh_private_key_file": str(fleet.key),
                  "ansible_ssh_common_args": f"-o UserKnownHostsFile={fleet.known_hosts}", **extra_vars}
    path.write_text(yaml.safe_dump({"all": {"vars": group_vars, "hosts": hosts}}, sort_keys=False))
    return path


def close_masters(control_dir: Path) -> None:
    for sock in control_dir.glob("*"):
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, check=False)
    shutil.rmtree(control_dir, ignore_errors=True)


def run_variant(variant: str, inventory: Path, count: int, args, workdir: Path) -> dict:
    control_dir = Path(tempfile.mkdtemp(prefix="agp-bcp-"))
    run_dir = workdir / "rundir"
    run_dir.mkdir(exist_ok=True)
    tail = (["--skip-tags", args.skip_tags] if args.skip_tags else []) + \
        (["--tags", args.tags] if args.tags else [])
    state = workdir / "state"
    if variant == "a":
        cmd = [str(VENV_BIN / "autoglm-provision"), "site", str(inventory), "--plain", *tail]
        env, cwd = clean_env(AUTOGLM_PROVISION_STATE=str(state)), ROOT
    else:
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), *tail,
               "-e", "autoglm_action=site", "-e", f"autoglm_run_dir={run_dir}"]
        if variant == "b":
            env = clean_env(ANSIBLE_COLLECTIONS_PATH=str(paths.COLLECTIONS_PATH))
            cwd = workdir / "empty-cwd"
            cwd.mkdir(exist_ok=True)
        else:
            env, cwd = clean_env(**{**settings.runner_env(count, environ={}), **TUNING.get(variant, {})}), ROOT
            if variant == "c_factcache":
                env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = str(workdir / "factcache")
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)
    started, cpu_before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Controller CPU of the run (ansible-playbook, its workers, ssh clients; not the targets' CPU and
    # not daemonised ControlPersist masters): far less sensitive to other load than wall time.
    controller_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    close_masters(control_dir)
    if variant == "a":
        report = json.loads((state / "runs" / "latest" / "report.json").read_text())
        totals = report["totals"]
        hosts, changed, failed = len(report["hosts"]), totals["changed"], totals["failed"] + totals["unreachable"]
    else:
        recap = RECAP.findall(proc.stdout)
        hosts = len(recap)
        changed = sum(int(r[2]) for r in recap)
        failed = sum(int(r[3]) + int(r[4]) for r in recap)
    result = {"variant": variant, "n": count, "wall_s": round(wall, 2), "controller_cpu_s": round(controller_cpu, 1),
              "rc": proc.returncode, "hosts": hosts,
              "changed": changed, "failed": failed, "load": round(os.getloadavg()[0], 1)}
    if hosts != count or failed:
        (workdir / f"fail-{variant}-{count}.log").write_text(proc.stdout + proc.stderr)
    print(json.dumps(result), flush=True)
    return result


def save(out: dict, workdir: Path) -> None:
    (workdir / "results.json").write_text(json.dumps(out, indent=2))


def table(results: list[dict], sizes: list[int], tuning_n: int) -> str:
    def med(variant: str, n: int, key: str = "wall_s") -> float | None:
        values = [r[key] for r in results if r["variant"] == variant and r["n"] == n and key in r]
        return statistics.median(values) if values else None

    def cpu(n: int) -> str:
        values = [med(v, n, "controller_cpu_s") for v in "abc"]
        return " / ".join("-" if v is None else f"{v:.0f}" for v in values)

    lines = ["| N | (a) autoglm-provision (s) | (b) ansible defaults (s) | (c) product settings (s) | a/b | a/c "
             "| a per host (s) | changed | controller CPU a / b / c (s) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        a, b, c = med("a", n), med("b", n), med("c", n)
        changed = sum(r["changed"] for r in results if r["n"] == n and r["variant"] in "abc")
        lines.append(f"| {n} | {a:.1f} | {b:.1f} | {c:.1f} | {a / b:.2f} | {a / c:.2f} | {a / n:.2f} | {changed} "
                     f"| {cpu(n)} |" if a and b and c else f"| {n} | {a} | {b} | {c} | | | | | |")
    tuned = [v for v in TUNING if any(r["variant"] == v for r in results)]
    if tuned:
        n, ref = tuning_n, med("c_ref", tuning_n)
        lines += ["", f"Tuning experiments at N={n} (median s), each against c_ref: (c) re-run in the same block:",
                  "", "| variant | settings on top of (c) | wall (s) | vs c_ref |", "|---|---|---:|---:|",
                  f"| c_ref | (none) | {ref:.1f} | 1.00 |"]
        for v in tuned:
            lines.append(f"| {v} | {' '.join(f'{k}={x}' for k, x in TUNING[v].items())} | {med(v, n):.1f} "
                         f"| {med(v, n) / ref:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5,10,20", help="fleet sizes N (comma-separated)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per variant and N")
    parser.add_argument("--tags", default=DEFAULT_TAGS, help="passed to every variant")
    parser.add_argument("--skip-tags", default="", help="passed to every variant")
    parser.add_argument("--check-idempotence", action="store_true",
                        help="an extra untimed CLI run after the converge (every timed run reports changed too)")
    parser.add_argument("--tuning", action="store_true", help=f"also time {', '.join(TUNING)} (each repetition)")
    parser.add_argument("--tuning-size", type=int, help="N for the tuning experiments (default: the largest)")
    parser.add_argument("--apt-cache-port", type=int, default=3199)
    parser.add_argument("--no-apt-cache", action="store_true", help="converge straight from the archive")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/agp-fleet-bench"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    tuning_n = args.tuning_size or max(sizes)
    if tuning_n not in sizes:
        parser.error(f"--tuning-size {tuning_n} must be one of --sizes {args.sizes}")
    # SIGTERM (timeout, kill) must still remove the containers and stop the cache: run the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    cache = None if args.no_apt_cache else AptCache(args.workdir, args.apt_cache_port)
    out: dict = {"sizes": sizes, "skip_tags": args.skip_tags, "tags": args.tags, "cpus": os.cpu_count(),
                 "settings": settings.runner_env(max(sizes), environ={}), "results": []}
    with SshdFleet("agp-bench", args.workdir / "fleet") as fleet:
        started = time.monotonic()
        fleet.start(max(sizes))
        print(f"{max(sizes)} sshd containers up in {time.monotonic() - started:.0f} s", flush=True)
        extra = dict(LAB_VARS)
        if cache:
            cache.start()
            extra["apt_sources_proxy_url"] = cache.url
        inventories = {n: write_inventory(args.workdir / f"hosts-{n}.yml", fleet, n, extra) for n in sizes}
        try:
            converge = run_variant("a", inventories[max(sizes)], max(sizes), args, args.workdir)
            out["converge"] = converge
            if cache:
                traffic = cache.traffic()
                traffic["hosts"] = max(sizes)
                traffic["upstream_per_host_served"] = round(
                    traffic["upstream_bytes"] / (traffic["served_bytes"] / max(sizes)), 3) \
                    if traffic["served_bytes"] else None
                out["apt_traffic"] = traffic
                print("apt traffic:", json.dumps(traffic), flush=True)
            if args.check_idempotence:
                out["idempotence"] = run_variant("a", inventories[max(sizes)], max(sizes), args, args.workdir)
            variants = ["a", "b", "c"]
            for rep in range(max(args.repeat, int(args.tuning))):  # --repeat 0 --tuning: tuning alone
                for i, n in enumerate(sizes if rep < args.repeat else []):  # rotate the order per N
                    order = variants[(rep + i) % 3:] + variants[:(rep + i) % 3]
                    out["results"] += [run_variant(v, inventories[n], n, args, args.workdir) for v in order]
                    save(out, args.workdir)
                if args.tuning:
                    out["results"] += [run_variant(v, inventories[tuning_n], tuning_n, args, args.workdir)
                                       for v in ["c_ref", *TUNING]]
                    save(out, args.workdir)
        finally:
            if cache:
                cache.stop()
            save(out, args.workdir)
    print("\n" + table(out["results"], sizes, tuning_n))
    print(f"\nraw results: {args.workdir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
