"""ansible-playbook's own options, as the command line gave them (:class:`RunOptions`), and how the
CLI's flags become them: passwords asked for here, files named checked here, before a host is
contacted."""

from __future__ import annotations

import argparse
import getpass
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from . import guards

BECOME_PROMPT = r"^BECOME password.*:\s*?$"
VAULT_PROMPT = r"^Vault password.*:\s*?$"


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().absolute()) if path else path


@dataclass(frozen=True)
class RunOptions:
    """Pass-through options, as ansible-playbook knows them; a run's differ from its plan's only by
    ``dataclasses.replace`` (the limit file, the -e items' private files)."""

    check: bool = False
    diff: bool = False
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    extra_vars: list[str] = field(default_factory=list)  # as given: validated, never handed on as they are
    extra_vars_args: list[str] = field(default_factory=list)  # what ansible-playbook gets: @private files
    extra_vars_public: list[str] = field(default_factory=list)  # what report.json records: redacted
    forks: int | None = None
    private_key: str | None = None
    user: str | None = None
    verbosity: int = 0
    become_password: str | None = None
    vault_password: str | None = None
    vault_password_file: str | None = None

    def prompt_answers(self) -> dict[str, str]:
        """ansible-runner's answers to ansible-playbook's password prompts, kept in memory."""
        answers = {}
        if self.become_password is not None:
            answers[BECOME_PROMPT] = self.become_password
        if self.vault_password is not None:
            answers[VAULT_PROMPT] = self.vault_password
        return answers

    def cmdline(self) -> list[str]:
        # ansible-playbook runs in the collection's directory: files the user named relative to
        # where the CLI was started become absolute paths here.
        args: list[str] = []
        args += ["--check"] if self.check else []
        args += ["--diff"] if self.diff else []
        limit = "@" + _absolute(self.limit[1:]) if self.limit and self.limit.startswith("@") else self.limit
        for flag, value in (("--limit", limit), ("--tags", self.tags), ("--skip-tags", self.skip_tags),
                            ("--private-key", _absolute(self.private_key)), ("--user", self.user),
                            ("--vault-password-file", _absolute(self.vault_password_file))):
            if value:
                args += [flag, value]
        for item in self.extra_vars_args:
            args += ["--extra-vars", item]
        args += ["--ask-become-pass"] if self.become_password is not None else []
        args += ["--ask-vault-pass"] if self.vault_password is not None else []
        return args

    def public(self) -> dict:
        """What report.json records: the flags, never a password."""
        return {"check": self.check, "diff": self.diff, "limit": self.limit, "tags": self.tags,
                "skip_tags": self.skip_tags, "extra_vars": list(self.extra_vars_public), "forks": self.forks,
                "user": self.user, "private_key": self.private_key, "verbosity": self.verbosity,
                "ask_become_pass": self.become_password is not None}


def options_from(args: argparse.Namespace) -> RunOptions:
    """The run's options from the CLI's flags; a UsageError names a flag whose file is missing."""
    guards.check_probe_flags(args)
    become = getpass.getpass("BECOME password: ") if args.ask_become_pass else None
    vault = getpass.getpass("Vault password: ") if args.ask_vault_pass else None
    if args.vault_password_file and not Path(args.vault_password_file).exists():
        raise UsageError(f"--vault-password-file {args.vault_password_file}: no such file")
    if args.private_key and not Path(args.private_key).expanduser().exists():
        raise UsageError(f"--private-key {args.private_key}: no such file")
    if args.forks is not None and args.forks < 1:
        raise UsageError(f"--forks {args.forks}: must be 1 or more")
    return RunOptions(check=args.check, diff=args.diff, limit=args.limit, tags=args.tags,
                      skip_tags=args.skip_tags, extra_vars=args.extra_vars, forks=args.forks,
                      private_key=args.private_key, user=args.user, verbosity=args.verbose,
                      become_password=become, vault_password=vault,
                      vault_password_file=args.vault_password_file)
