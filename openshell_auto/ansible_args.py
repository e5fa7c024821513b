"""The common ansible-playbook options the CLI passes through (options.ansible_options declares
them), turned into ansible-playbook arguments.

Secrets never reach a command line, the environment or the run's artifacts: a password typed at
a prompt (-k, -K, --ask-vault-pass, --vault-id LABEL@prompt, or ask_pass / become_ask_pass /
ask_vault_pass of the ansible.cfg in force) is written to a 0600 file in the system
temp directory, outside the artifacts, passed as --connection-password-file / --become-password-file / --vault-id LABEL@FILE and
deleted when the run ends. Ansible reads such a file as the password itself (it would run it
only if it were executable; these files never are).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from openshell_auto.errors import InputError

PROMPT = "prompt"


def split_vault_id(vault_id: str) -> tuple[str, str | None, str]:
    """(label, source, text) of a --vault-id as Ansible reads it: LABEL@SOURCE, or a bare SOURCE
    (label `default`); `prompt` as source asks for the password."""
    label, sep, source = vault_id.partition("@")
    if not sep:
        return "default", label, vault_id
    return label, source, vault_id


@dataclass
class AnsibleArgs:
    """Pass-through options of one run. `None`/empty: ansible.cfg (the user's or the project's)
    decides."""

    user: str | None = None
    private_key: Path | None = None
    become: bool = False
    become_user: str | None = None
    ask_pass: bool = False
    ask_become_pass: bool = False
    vault_ids: tuple[str, ...] = ()
    ask_vault_pass: bool = False
    vault_password_files: tuple[Path, ...] = ()
    check: bool = False
    diff: bool = False
    forks: int | None = None
    verbosity: int = 0
    # filled by prompt_secrets(): 0600 files to pass and delete afterwards
    secret_files: list[Path] = field(default_factory=list)
    _become_file: Path | None = None
    _connection_file: Path | None = None
    _vault_files: dict[str, Path] = field(default_factory=dict)

    def validate(self) -> None:
        """Bad values -> InputError (exit 2) before anything runs."""
        if self.forks is not None and self.forks < 1:
            raise InputError(f"--forks {self.forks}: field forks: must be 1 or more")
        for name, value in (("user", self.user), ("become-user", self.become_user)):
            if value is not None and (not value or any(c.isspace() for c in value) or value.startswith("-")):
                raise InputError(f"--{name} {value!r}: field {name}: not a user name; give a plain user name")
        if self.private_key is not None and not self.private_key.expanduser().is_file():
            raise InputError(f"--private-key {self.private_key}: field private-key: file not found; "
                             "give an existing private key file")
        for file in self.vault_password_files:
            if not file.expanduser().exists():
                raise InputError(f"--vault-password-file {file}: field vault-password-file: file not found; "
                                 "give an existing file")
        for vault_id in self.vault_ids:
            label, source, _ = split_vault_id(vault_id)
            if not label or not source:
                raise InputError(f"--vault-id {vault_id!r}: field vault-id: use LABEL@FILE, LABEL@prompt or FILE")
            if source != PROMPT and not Path(source).expanduser().exists():
                raise InputError(f"--vault-id {vault_id}: field vault-id: password file {source} not found; "
                                 "give an existing file or LABEL@prompt")

    def prompt_secrets(self, ask: Callable[[str], str], config_asks: Collection[str] = ()) -> None:
        """Ask for every password the options, or the config in force (`config_asks`, see
        runner.config_prompts), call for (ask(prompt) reads it without echo) and keep each in a
        0600 temp file. Call once, after validation; `cleanup()` deletes them."""
        self.ask_pass = self.ask_pass or "connection" in config_asks
        self.ask_become_pass = self.ask_become_pass or "become" in config_asks
        self.ask_vault_pass = self.ask_vault_pass or "vault" in config_asks
        try:
            if self.ask_pass:
                self._connection_file = self._secret_file(ask("SSH password"))
            if self.ask_become_pass:
                self._become_file = self._secret_file(ask("BECOME password"))
            if self.ask_vault_pass:
                self._vault_files["default"] = self._secret_file(ask("Vault password"))
            for vault_id in self.vault_ids:
                label, source, _ = split_vault_id(vault_id)
                if source == PROMPT and label not in self._vault_files:
                    self._vault_files[label] = self._secret_file(ask(f"Vault password ({label})"))
        except BaseException:
            self.cleanup()
            raise

    def _secret_file(self, secret: str) -> Path:
        fd, name = tempfile.mkstemp(prefix="openshell-auto-secret-")
        path = Path(name)
        self.secret_files.append(path)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret)
        return path

    def cleanup(self) -> None:
        for file in self.secret_files:
            file.unlink(missing_ok=True)
        self.secret_files.clear()

    def cmdline(self) -> list[str]:
        """ansible-playbook arguments (no secret in them: passwords are files)."""
        args: list[str] = []
        if self.user:
            args += ["--user", self.user]
        if self.private_key is not None:
            args += ["--private-key", str(self.private_key.expanduser().resolve())]
        if self.become:
            args.append("--become")
        if self.become_user:
            args += ["--become-user", self.become_user]
        if (self.ask_pass or self.ask_become_pass or self.ask_vault_pass) and not self.secret_files:
            raise RuntimeError("prompt_secrets() was not called")
        if self._connection_file is not None:
            args += ["--connection-password-file", str(self._connection_file)]
        if self._become_file is not None:
            args += ["--become-password-file", str(self._become_file)]
        for vault_id in self.vault_ids:
            label, source, _ = split_vault_id(vault_id)
            if source == PROMPT:
                args += ["--vault-id", f"{label}@{self._vault_files[label]}"]
            else:
                args += ["--vault-id", f"{label}@{Path(str(source)).expanduser().resolve()}"]
        if self.ask_vault_pass:
            args += ["--vault-id", f"default@{self._vault_files['default']}"]
        for file in self.vault_password_files:
            args += ["--vault-password-file", str(file.expanduser().resolve())]
        if self.check:
            args.append("--check")
        if self.diff:
            args.append("--diff")
        return args

    def env(self) -> dict[str, str]:
        """Settings that stop ansible-playbook from prompting again for a password given as a
        file (ask_pass / become_ask_pass / ask_vault_pass of ansible.cfg would win over it)."""
        env: dict[str, str] = {}
        if self._connection_file is not None:
            env["ANSIBLE_ASK_PASS"] = "False"
        if self._become_file is not None:
            env["ANSIBLE_BECOME_ASK_PASS"] = "False"
        if "default" in self._vault_files and self.ask_vault_pass:
            env["ANSIBLE_ASK_VAULT_PASS"] = "False"
        return env

    @property
    def streams(self) -> bool:
        """-v or --diff: show ansible-playbook's own output on the console."""
        return self.verbosity > 0 or self.diff
