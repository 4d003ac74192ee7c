import codecs
import json
import stat

from provisioner import extravars
from provisioner.runner import RunOptions, early_error_text, event_file_writer, scrub_command_artifacts


def test_cmdline_passes_flags_and_never_passwords():
    options = RunOptions(check=True, diff=True, limit="gpu", tags="driver", skip_tags="smoke",
                         extra_vars=["token=t0k", "@vars.yml"], extra_vars_args=["@/shm/ev-0.json", "@/abs/vars.yml"],
                         extra_vars_public=["token=<redacted>", "@vars.yml"], private_key="/k", user="ops",
                         become_password="s3cret", vault_password="v4ult")
    args = options.cmdline()
    assert args[:2] == ["--check", "--diff"]
    assert args[2:4] == ["--limit", "gpu"] and "--ask-become-pass" in args and "--ask-vault-pass" in args
    assert args.count("--extra-vars") == 2 and "@/shm/ev-0.json" in args  # files only: nothing secret in ps
    assert "t0k" not in json.dumps(args) + json.dumps(options.public())
    assert "s3cret" not in json.dumps(args) + json.dumps(options.public())
    assert "v4ult" not in json.dumps(args) + json.dumps(options.public())


def test_command_artifact_env_is_redacted(tmp_path):
    command = tmp_path / "artifacts" / "id" / "command"
    command.parent.mkdir(parents=True)
    command.write_text(json.dumps({"command": ["ansible-playbook"], "env": {
        "ANSIBLE_FORKS": "5", "PATH": "/bin", "BMC_PASSWORD": "hunter2", "AWS_SECRET_ACCESS_KEY": "k"}}))
    scrub_command_artifacts(tmp_path)
    env = json.loads(command.read_text())["env"]
    assert env == {"ANSIBLE_FORKS": "5", "PATH": "/bin", "BMC_PASSWORD": "<redacted>",
                   "AWS_SECRET_ACCESS_KEY": "<redacted>"}


def test_files_named_relative_to_the_callers_directory_become_absolute(tmp_path, monkeypatch):
    """ansible-playbook runs in the collection's directory, not where the user started the CLI."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vars.yml").write_text("a: 1\n")
    private = tmp_path / "private"
    private.mkdir()
    items = extravars.parse(["@vars.yml", "a=@b"], [])
    args = RunOptions(extra_vars_args=extravars.handed_to_ansible(items, {}, private), limit="@retry.txt",
                      vault_password_file="vault.txt", private_key="keys/id").cmdline()
    assert args[args.index("--limit") + 1] == f"@{tmp_path / 'retry.txt'}"
    assert args[args.index("--vault-password-file") + 1] == str(tmp_path / "vault.txt")
    assert args[args.index("--private-key") + 1] == str(tmp_path / "keys" / "id")
    extra = [args[i + 1] for i, a in enumerate(args) if a == "--extra-vars"]
    assert extra == [f"@{tmp_path / 'vars.yml'}", f"@{private / 'extra-vars-1.json'}"]  # key=value: a private file


def test_early_error_text_is_ansibles_own_message(tmp_path):
    stdout = tmp_path / "stdout"
    assert early_error_text(stdout) == ""  # no output at all
    stdout.write_text("\nPLAY [x] ***\n[ERROR]: Attempting to decrypt but no vault secrets found.\nOrigin: /v.yml\n")
    assert early_error_text(stdout) == "[ERROR]: Attempting to decrypt but no vault secrets found.\nOrigin: /v.yml"
    stdout.write_text("".join(f"line {n}\n" for n in range(40)))  # no ERROR line: the tail
    assert early_error_text(stdout, max_lines=3) == "line 37\nline 38\nline 39"


# The CLI writes ansible-runner's job_events files itself (runner.event_file_writer), because
# runner's own writer was the CLI process's largest cost. The files must be what runner writes.

EVENT = {"uuid": "0a1b2c3d-0000-4000-8000-000000000001", "counter": 17, "event": "runner_on_ok",
         "stdout": "ok: [gpu-01] => {\"msg\": \"caf\u00e9 \u2713\"}", "runner_ident": "run-1",
         "event_data": {"host": "gpu-01", "res": {"changed": False, "nested": [1, 2.5, None, True, {"k": "v"}]}}}


def runner_bytes(tmp_path, event: dict) -> bytes:
    """What ansible-runner 2.4's Runner.event_callback writes for an event (runner.py: json.dump
    through codecs.open(..., 'w', encoding='utf-8'))."""
    path = tmp_path / "runner.json"
    with codecs.open(str(path), "w", encoding="utf-8") as handle:
        json.dump(event, handle)
    return path.read_bytes()


def test_event_file_has_runners_name_mode_and_bytes(tmp_path):
    events_dir = tmp_path / "artifacts" / "run-1" / "job_events"
    write = event_file_writer(events_dir)
    write(EVENT)
    (written,) = list(events_dir.iterdir())
    assert written.name == "17-0a1b2c3d-0000-4000-8000-000000000001.json"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(events_dir.stat().st_mode) == 0o700
    assert written.read_bytes() == runner_bytes(tmp_path, EVENT)
    assert json.loads(written.read_text(encoding="utf-8")) == EVENT


def test_events_without_uuid_or_counter_are_not_written(tmp_path):
    # runner writes only events that carry a uuid (verbose lines outside any event have none)
    write = event_file_writer(tmp_path / "job_events")
    write({"event": "verbose", "stdout": "line", "counter": 3})
    write({"event": "verbose", "uuid": "x"})
    assert not (tmp_path / "job_events").exists() or not list((tmp_path / "job_events").iterdir())


def test_many_events_leave_no_temporary_files(tmp_path):
    write = event_file_writer(tmp_path / "job_events")
    for counter in range(1, 51):
        write({**EVENT, "counter": counter, "uuid": f"u-{counter}"})
    names = sorted(p.name for p in (tmp_path / "job_events").iterdir())
    assert len(names) == 50 and not [n for n in names if n.endswith(".tmp")]
