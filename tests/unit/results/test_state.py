"""Host state across runs. Every role fact here is built with tests/fixtures/role_facts.py: its keys
are the ones the roles' own report tasks publish, so a fixture cannot agree with a wrong reader."""

from provisioner.results import facts as role_facts
from provisioner.results import state
from tests.fixtures.role_facts import fact

PASSED = {"preflight": fact("preflight", qualified=True), "bios_check": fact("bios_check", failed_mandatory=[]),
          "gpu_smoke": fact("gpu_smoke", verdict="pass")}  # the smoke program's own word


def report(run_id, action, hosts, check=False):
    return {"run_id": run_id, "action": action, "inventory": "inv.yml", "finished": "2026-11-24T00:00:00+00:00",
            "interrupted": False, "options": {"check": check}, "hosts": hosts}


def test_records_merge_across_runs_and_readiness(tmp_path):
    facts_site = {**PASSED,
                  "nvidia_driver": fact("nvidia_driver", version_installed="535.261.03", version_loaded="535.261.03",
                                        reboot_pending=False),
                  "cuda": fact("cuda", version="11.8"), "python_venv": fact("python_venv", profile="cu118-default")}
    failed_preflight = {"preflight": fact("preflight", qualified=False)}
    state.record_run(report("r1", "site", {"a": {"status": "ok", "facts": facts_site},
                                           "b": {"status": "failed", "facts": failed_preflight}}), tmp_path)
    rows = {r["host"]: r for r in state.status_rows(["a", "b", "c"], tmp_path)}
    assert rows["a"]["ready"] is True
    assert rows["a"]["summary"]["driver"] == "535.261.03" and rows["a"]["summary"]["bios"] == "PASS"
    assert rows["b"]["ready"] is False and rows["b"]["summary"]["preflight"] == "FAIL"
    assert rows["c"]["last_status"] == "never run" and rows["c"]["ready"] is False
    # A later read-only check whose smoke test fails makes the host not ready, keeping driver facts.
    smoke_failed = {"gpu_smoke": fact("gpu_smoke", verdict="fail")}
    state.record_run(report("r2", "check", {"a": {"status": "failed", "facts": smoke_failed}}), tmp_path)
    a = state.load_host("a", tmp_path)
    assert a["ready"] is False and a["summary"]["driver"] == "535.261.03" and a["last_run_id"] == "r2"
    assert a["last_site_run_id"] == "r1"


def test_reboot_pending_blocks_readiness(tmp_path):
    facts = {**PASSED, "nvidia_driver": fact("nvidia_driver", reboot_pending=True)}
    state.record_run(report("r1", "site", {"a": {"status": "ok", "facts": facts}}), tmp_path)
    record = state.load_host("a", tmp_path)
    assert record["summary"]["reboot_pending"] is True and record["ready"] is False


def test_slow_node_from_fleet_view_blocks_readiness(tmp_path):
    facts = dict(PASSED)
    run = report("r1", "site", {"a": {"status": "ok", "facts": facts}})
    run["fleet"] = {"a": {"slow": True, "flags": [{"figure": "matmul_bf16_tflops"}]}}
    state.record_run(run, tmp_path)
    assert state.load_host("a", tmp_path)["ready"] is False
    state.record_run(report("r2", "check", {"a": {"status": "ok", "facts": {}}}), tmp_path)  # no smoke figures
    assert state.load_host("a", tmp_path)["summary"]["slow_node"] is True  # verdict kept until re-measured


def test_driver_column_reads_the_keys_the_role_publishes():
    # The contract is the role's report task: a key renamed there must fail here, not show "-" in `status`.
    import yaml  # noqa: PLC0415

    tasks = yaml.safe_load((state.paths.ROLES / "nvidia_driver" / "tasks" / "report.yml").read_text())
    published = set(next(t for t in tasks if "ansible.builtin.set_fact" in t)["ansible.builtin.set_fact"][
        "autoglm_report_nvidia_driver"])
    keys = role_facts.READS["nvidia_driver"][:2]  # the driver column: loaded version, else installed
    assert set(keys) <= published, (keys, published)


def test_status_shows_the_driver_version_of_a_real_report_task(tmp_path):
    """Issue 15's bug: status read `installed_version`, which the role never published."""
    driver = fact("nvidia_driver", version_installed="550.163.01", version_loaded="550.144.03")
    state.record_run(report("r1", "site", {"a": {"status": "ok", "facts": {**PASSED, "nvidia_driver": driver}}}),
                     tmp_path)
    assert state.status_rows(["a"], tmp_path)[0]["summary"]["driver"] == "550.144.03"  # what the GPUs run


def test_status_shows_the_codes_of_the_last_smoke_verdict(tmp_path):
    codes = ["GPU_H2D_LOW", "GPU_PERSISTENCE_OFF"]
    smoke = {"verdict": "fail", "level": "standard", "codes": codes, "findings": []}
    failed = {"gpu_smoke": fact("gpu_smoke", verdict="fail")}
    state.record_run(report("r1", "smoke", {"a": {"status": "failed", "facts": failed, "smoke": smoke}}), tmp_path)
    row = state.status_rows(["a"], tmp_path)[0]
    assert row["summary"]["smoke_codes"] == codes and row["smoke"]["run_id"] == "r1"
    # a run that did not run the smoke test keeps them; the next smoke verdict replaces them
    state.record_run(report("r2", "site", {"a": {"status": "ok", "facts": {}}}), tmp_path)
    assert state.load_host("a", tmp_path)["summary"]["smoke_codes"] == codes
    passed = {"verdict": "pass", "level": "quick", "codes": [], "findings": []}
    state.record_run(report("r3", "check", {"a": {"status": "ok", "facts": PASSED, "smoke": passed}}), tmp_path)
    assert state.load_host("a", tmp_path)["summary"]["smoke_codes"] == []


def test_non_ascii_host_names_keep_records_of_their_own(tmp_path):
    """节点-01 and 机器-01 once shared hosts/__-01.json: a host that never ran showed the other's record."""
    state.record_run(report("r1", "site", {"节点-01": {"status": "ok", "facts": PASSED}}), tmp_path)
    rows = {r["host"]: r for r in state.status_rows(["节点-01", "机器-01"], tmp_path)}
    assert rows["节点-01"]["last_run_id"] == "r1"
    assert rows["机器-01"]["last_status"] == "never run" and rows["机器-01"]["ready"] is False
    state.record_run(report("r2", "check", {"机器-01": {"status": "failed", "facts": {}}}), tmp_path)
    assert state.load_host("节点-01", tmp_path)["last_run_id"] == "r1"
    assert state.load_host("机器-01", tmp_path)["last_run_id"] == "r2"
    assert len(list(state.hosts_dir(tmp_path).iterdir())) == 2


def test_a_300_character_host_name_is_recorded_and_shown(tmp_path):
    long_name, longer = "n" * 300, "n" * 301
    warnings = state.record_run(report("r1", "site", {long_name: {"status": "ok", "facts": PASSED}}), tmp_path)
    assert warnings == []
    rows = {r["host"]: r for r in state.status_rows([long_name, longer], tmp_path)}
    assert rows[long_name]["last_run_id"] == "r1" and rows[longer]["last_status"] == "never run"
    assert all(len(p.name.encode()) < 255 for p in state.hosts_dir(tmp_path).iterdir())


def test_a_record_of_another_host_is_never_shown_as_this_ones(tmp_path):
    state.record_run(report("r1", "site", {"a": {"status": "ok", "facts": PASSED}}), tmp_path)
    record_file = state.hosts_dir(tmp_path) / "a.json"
    (state.hosts_dir(tmp_path) / "b.json").write_text(record_file.read_text())  # a copied or forged record
    problems: list[str] = []
    rows = {r["host"]: r for r in state.status_rows(["a", "b"], tmp_path, problems)}
    assert rows["a"]["last_run_id"] == "r1"
    assert rows["b"]["last_status"] == "state unreadable" and rows["b"]["ready"] is False
    assert problems and "b.json" in problems[0] and "'a'" in problems[0]


def test_records_of_the_old_file_naming_are_still_read_when_they_name_their_host(tmp_path):
    hosts = state.hosts_dir(tmp_path)
    hosts.mkdir(parents=True)
    (hosts / "__-01.json").write_text('{"host": "节点-01", "facts": {}, "summary": {}, "last_run_id": "old"}')
    assert state.load_host("节点-01", tmp_path)["last_run_id"] == "old"
    assert state.load_host("机器-01", tmp_path) is None  # the old shared name, but not this host's record
    state.record_run(report("r2", "check", {"节点-01": {"status": "ok", "facts": {}}}), tmp_path)
    assert [p.name for p in hosts.iterdir()] == ["%E8%8A%82%E7%82%B9-01.json"]  # moved to its own name
    assert state.load_host("节点-01", tmp_path)["last_run_id"] == "r2"
