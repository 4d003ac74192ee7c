import json

from provisioner.runner import RunOptions, scrub_command_artifacts


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
