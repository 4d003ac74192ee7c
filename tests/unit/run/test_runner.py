import json

from provisioner.plan import extravars
from provisioner.plan.options import RunOptions
from provisioner.run.runner import early_error_text, scrub_command_artifacts


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
