"""Fleet scale: the idempotent `site` re-run against N real SSH targets in five variants, timed
interleaved and repeated, with controller CPU per host and per host-task; and the apt traffic that
N hosts cause upstream when the controller runs an apt cache.

Targets are systemd containers of the project's image (tests/integration/sshd_targets.py), each
with sshd on its own podman bridge address, reached over real SSH as root with a generated key
and a known_hosts file written from the containers' own host keys (host key checking stays on).

    .venv/bin/python bench/fleet_scale.py --sizes 10,20 --repeat 3

Steps: start max(sizes) containers and an apt-cacher-ng on the bridge gateway (cold cache);
converge them once through the CLI (apt_sources_proxy_url points at the cache) and count the
bytes the cache fetched upstream vs the bytes it served; warm the fact cache once; then, per
repetition and N, every variant once, the order rotated each time (VARIANTS says what each is).
All get the same inventory (lab thresholds for a 2-core container host in its vars), the same
--tags/--skip-tags and the same extra vars. Every run gets a fresh SSH ControlPath dir whose
masters are closed afterwards, as the CLI does, so no variant inherits another's connections.

Per run: wall seconds; controller CPU seconds (this process's finished children: ansible-playbook
or the CLI, their forks and ssh clients); host-tasks (ok + failed + skipped + unreachable summed
over hosts, from the play recap or the CLI's report.json, which counts the same events); the
targets' own CPU (cpuacct of the N containers' cgroups, where cgroup v1 accounting exists); and
the controller CPU split by process: the CLI's own process, ansible-playbook's main process, its
forked workers, and the rest (ssh clients), from bench/cpu_by_process/sitecustomize.py.
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
from provisioner.plan.runplan import action_playbook  # noqa: E402
from tests.integration.sshd_targets import GATEWAY, SshdFleet  # noqa: E402

VENV_BIN = Path(sys.executable).parent
CPU_BY_PROCESS = Path(__file__).resolve().parent / "cpu_by_process"  # its sitecustomize logs each process's CPU
PLAYBOOK = action_playbook("site")
# The roles that run in a container on this machine, named so the set stays fixed while site.yml
# grows ("untagged" = common). Left out: nvidia_driver (no GPU, no kernel modules to build),
# cuda (2.4 GB per host), python_venv (torch wheels per host, needs PyPI through the site CA),
# gpu_smoke (no GPU). Passed identically to every variant.
DEFAULT_TAGS = "untagged,preflight,bios_check,apt_sources,kernel,firmware,ipmi,modprobe"
LAB_VARS = {  # a 2-core, GPU-less container must pass the gates (the molecule base scenario's values)
    "preflight_cpu_cores_minimum": 1, "preflight_gpu_count_minimum": 0,
    "preflight_disk_free_gb_minimum": 5, "preflight_storage_read_test_mb": 64,
    "preflight_ram_gb_minimum": 1, "bios_check_enforce": False,
}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)",
                   re.M)
# Variant -> what it is. "defaults" runs from an empty directory so no ansible.cfg applies; only the
# collections path is set, which the playbook cannot run without. The others run from the repo root
# with provisioner.settings.runner_env(N) (forks = N here, pipelining, ControlPersist, smart gathering).
VARIANTS = {
    "defaults": "ansible-playbook, Ansible's defaults (forks 5, no pipelining, ControlPersist 60 s)",
    "product": "ansible-playbook with the product's settings (settings.runner_env(N))",
    "cli": "autoglm-provision site --plain (the same settings + validation, pre-flight, events, report)",
    "mitogen": "the product's settings + mitogen's mitogen_linear strategy (PyPI mitogen, opt-in)",
    "factcache": "the product's settings + a jsonfile fact cache (warm: an earlier run filled it)",
}
MITOGEN = "mitogen==0.3.54"  # supports ansible-core 2.19 (ansible_mitogen/loaders.py: no upper bound)


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


def install_mitogen(workdir: Path) -> Path:
    """mitogen into its own folder (not the project's venv); returns its strategy plugin dir."""
    target = workdir / "mitogen"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), MITOGEN], check=True)
    return target


def variant_env(variant: str, count: int, workdir: Path) -> tuple[dict[str, str], Path]:
    if variant == "defaults":
        cwd = workdir / "empty-cwd"
        cwd.mkdir(exist_ok=True)
        return clean_env(ANSIBLE_COLLECTIONS_PATH=str(paths.ensure_collections_path())), cwd
    if variant == "cli":
        return clean_env(AUTOGLM_PROVISION_STATE=str(workdir / "state")), ROOT
    env = clean_env(**settings.runner_env(count, environ={}))
    if variant == "mitogen":
        target = workdir / "mitogen"
        env.update(PYTHONPATH=str(target), ANSIBLE_STRATEGY="mitogen_linear",
                   ANSIBLE_STRATEGY_PLUGINS=str(target / "ansible_mitogen" / "plugins" / "strategy"))
    elif variant == "factcache":
        env.update(ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_TIMEOUT="86400",
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=str(workdir / "factcache"))
    return env, ROOT


def target_cpu_s(fleet: SshdFleet, count: int) -> float | None:
    """CPU seconds the first ``count`` containers have used (cgroup v1 cpuacct); None where unreadable."""
    total = 0.0
    for host in fleet.hosts[:count]:
        pid = subprocess.run(["podman", "inspect", "-f", "{{.State.Pid}}", host.name], capture_output=True,
                             text=True, check=False).stdout.strip()
        try:
            cgroup = next(line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                          if "cpuacct" in line.split(":", 2)[1].split(","))
            total += int(Path(f"/sys/fs/cgroup/cpuacct{cgroup}/cpuacct.usage").read_text()) / 1e9
        except (OSError, StopIteration, ValueError):
            return None
    return total


def outcome(variant: str, stdout: str, workdir: Path) -> tuple[int, int, int, int]:
    """(hosts, changed, failed, host-tasks) from the CLI's report.json or ansible-playbook's recap."""
    if variant == "cli":
        report = json.loads((workdir / "state" / "runs" / "latest" / "report.json").read_text())
        t = report["totals"]
        return (len(report["hosts"]), t["changed"], t["failed"] + t["unreachable"],
                t["ok"] + t["failed"] + t["skipped"] + t["unreachable"])
    recap = RECAP.findall(stdout)
    return (len(recap), sum(int(r[2]) for r in recap), sum(int(r[3]) + int(r[4]) for r in recap),
            sum(int(r[1]) + int(r[3]) + int(r[4]) + int(r[5]) for r in recap))


def cpu_by_process(log: Path, controller_cpu: float) -> dict[str, float]:
    """The run's controller CPU by process, from the per-process log (the last entry per pid)."""
    last = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        entry = json.loads(line)
        last[entry["pid"]] = entry
    split = {"cli": 0.0, "playbook_main": 0.0, "playbook_workers": 0.0}
    for entry in last.values():
        if entry["program"] == "autoglm-provision":
            split["cli"] += entry["cpu_s"]
        elif entry["program"] == "ansible-playbook":
            split["playbook_workers" if entry["forked"] else "playbook_main"] += entry["cpu_s"]
    split = {key: round(value, 2) for key, value in split.items()}
    split["other"] = round(controller_cpu - sum(split.values()), 2)  # ssh clients, non-Python helpers
    return split


def run_variant(variant: str, inventory: Path, count: int, args, workdir: Path, fleet: SshdFleet) -> dict:
    control_dir = Path(tempfile.mkdtemp(prefix="agp-bcp-"))
    run_dir = workdir / "rundir"
    run_dir.mkdir(exist_ok=True)
    tail = (["--skip-tags", args.skip_tags] if args.skip_tags else []) + \
        (["--tags", args.tags] if args.tags else [])
    if variant == "cli":
        cmd = [str(VENV_BIN / "autoglm-provision"), "site", str(inventory), "--plain", *tail]
    else:
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), *tail,
               "-e", "autoglm_action=site", "-e", f"autoglm_run_dir={run_dir}"]
    env, cwd = variant_env(variant, count, workdir)
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)
    cpu_log = control_dir / "cpu-by-process.jsonl"
    env["FLEET_CPU_LOG"] = str(cpu_log)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(CPU_BY_PROCESS), env.get("PYTHONPATH"))))
    targets_before = target_cpu_s(fleet, count)
    started, cpu_before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    targets_after = target_cpu_s(fleet, count)
    # Controller CPU of the run (ansible-playbook, its workers, ssh clients; not the targets' CPU and
    # not daemonised ControlPersist masters): far less sensitive to other load than wall time.
    controller_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    split = cpu_by_process(cpu_log, controller_cpu)
    close_masters(control_dir)
    hosts, changed, failed, host_tasks = outcome(variant, proc.stdout, workdir)
    result = {"variant": variant, "n": count, "wall_s": round(wall, 2), "controller_cpu_s": round(controller_cpu, 2),
              "host_tasks": host_tasks, "rc": proc.returncode, "hosts": hosts, "changed": changed, "failed": failed,
              "targets_cpu_s": None if targets_before is None or targets_after is None
              else round(targets_after - targets_before, 2), "load": round(os.getloadavg()[0], 1),
              "cpu_by_process_s": split}
    if hosts != count or failed or proc.returncode:
        (workdir / f"fail-{variant}-{count}-{int(started)}.log").write_text(proc.stdout + proc.stderr)
    print(json.dumps(result), flush=True)
    return result


def save(out: dict, workdir: Path) -> None:
    (workdir / "results.json").write_text(json.dumps(out, indent=2))


def spread(values: list[float], fmt: str = ".1f") -> str:
    """median (min-max) of the repetitions."""
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})" if len(values) > 1 else f"{med:{fmt}}"


def table(results: list[dict], sizes: list[int]) -> str:
    """The medians per variant and N; the ratios against Ansible's defaults, or against the product's
    settings when the defaults were not run (e.g. --variants product,cli: the CLI's own cost)."""
    measured = {r["variant"] for r in results}
    ref = "defaults" if "defaults" in measured else "product"
    lines = ["| N | variant | runs | wall s, median (min-max) | controller CPU s | CPU ms per host-task "
             f"| CPU s per host | host-tasks | targets' CPU s | changed | wall vs {ref} | CPU vs {ref} |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        runs = {v: [r for r in results if r["variant"] == v and r["n"] == n] for v in VARIANTS}
        base = runs[ref]
        base_wall = statistics.median([r["wall_s"] for r in base]) if base else None
        base_cpu = statistics.median([r["controller_cpu_s"] for r in base]) if base else None
        for v, rs in runs.items():
            if not rs or not base:
                continue
            wall = [r["wall_s"] for r in rs]
            cpu = [r["controller_cpu_s"] for r in rs]
            per_task = [1000 * r["controller_cpu_s"] / r["host_tasks"] for r in rs if r["host_tasks"]]
            targets = [r["targets_cpu_s"] for r in rs if r["targets_cpu_s"] is not None]
            tasks = "/".join(str(t) for t in sorted({r["host_tasks"] for r in rs}))
            lines.append(
                f"| {n} | {v} | {len(rs)} | {spread(wall)} | {spread(cpu)} | {spread(per_task)} "
                f"| {statistics.median(cpu) / n:.2f} | {tasks} | {spread(targets)} | {sum(r['changed'] for r in rs)} "
                f"| {base_wall / statistics.median(wall):.2f}x | {base_cpu / statistics.median(cpu):.2f}x |")
    return "\n".join(lines)


def process_table(results: list[dict], sizes: list[int]) -> str:
    """Where each variant's controller CPU goes: medians (min-max) per process kind."""
    kinds = ("cli", "playbook_main", "playbook_workers", "other")
    lines = ["| N | variant | the CLI's process s | ansible-playbook main s | its workers s | ssh and other s |",
             "|---:|---|---:|---:|---:|---:|"]
    for n in sizes:
        for v in VARIANTS:
            rs = [r for r in results if r["variant"] == v and r["n"] == n and r.get("cpu_by_process_s")]
            if rs:
                cells = " | ".join(spread([r["cpu_by_process_s"][k] for r in rs], ".2f") for k in kinds)
                lines.append(f"| {n} | {v} | {cells} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,20", help="fleet sizes N (comma-separated)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per variant and N")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--tags", default=DEFAULT_TAGS, help="passed to every variant")
    parser.add_argument("--skip-tags", default="", help="passed to every variant")
    parser.add_argument("--apt-cache-port", type=int, default=3199)
    parser.add_argument("--no-apt-cache", action="store_true", help="converge straight from the archive")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/agp-fleet-bench"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; allowed: {', '.join(VARIANTS)}")
    # SIGTERM (timeout, kill) must still remove the containers and stop the cache: run the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    if "mitogen" in variants:
        install_mitogen(args.workdir)
    cache = None if args.no_apt_cache else AptCache(args.workdir, args.apt_cache_port)
    out: dict = {"sizes": sizes, "skip_tags": args.skip_tags, "tags": args.tags, "cpus": os.cpu_count(),
                 "variants": {v: VARIANTS[v] for v in variants}, "mitogen": MITOGEN,
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
            out["converge"] = run_variant("cli", inventories[max(sizes)], max(sizes), args, args.workdir, fleet)
            if cache:
                traffic = cache.traffic()
                traffic["hosts"] = max(sizes)
                traffic["upstream_per_host_served"] = round(
                    traffic["upstream_bytes"] / (traffic["served_bytes"] / max(sizes)), 3) \
                    if traffic["served_bytes"] else None
                out["apt_traffic"] = traffic
                print("apt traffic:", json.dumps(traffic), flush=True)
            if "factcache" in variants:  # fills the cache: the timed runs are "second and later" runs
                out["factcache_warm"] = run_variant("factcache", inventories[max(sizes)], max(sizes), args,
                                                    args.workdir, fleet)
            for rep in range(args.repeat):
                for i, n in enumerate(sizes):  # every variant once per repetition and N, order rotated
                    k = (rep * len(sizes) + i) % len(variants)
                    for v in variants[k:] + variants[:k]:
                        out["results"].append(run_variant(v, inventories[n], n, args, args.workdir, fleet))
                        save(out, args.workdir)
        finally:
            if cache:
                cache.stop()
            save(out, args.workdir)
    print("\n" + table(out["results"], sizes))
    print("\n" + process_table(out["results"], sizes))
    print(f"\nraw results: {args.workdir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
