"""Options and the run-a-playbook flow shared by provision, verify, doctor and reset.

The common ansible-playbook options (-u, --private-key, -k, -b, -K, --become-user, --vault-id,
--ask-vault-pass, --vault-password-file, -D, -f, -v) are declared once, in `ansible_options`,
and collected into an ansible_args.AnsibleArgs by `ansible_args_from`; `-i` (repeatable, every
source inventory_sources accepts) once, in `inventory_option`.

Usage in a command module::

    @click.command()
    @playbook_options
    def verify(**options: Any) -> None:
        "One line for --help."
        raise SystemExit(execute_playbook("verify.yml", **options))
"""

from __future__ import annotations

import contextlib

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from openshell_auto.errors import EXIT_BAD_INPUT, InputError

F = TypeVar("F", bound=Callable[..., Any])

_PATTERN_CHARS = set("*?[]~!&@:")
# Playbooks that copy the air-gap source files (`*_src`) to hosts: those files must exist first.
PLAYBOOKS_READING_SOURCES = frozenset({"site.yml"})


def extra_vars_option(func: F) -> F:
    return click.option(
        "-e", "--extra-vars", "extra_vars", multiple=True, metavar="KEY=VALUE|@FILE",
        help="Set a variable (repeatable; later wins): KEY=VALUE, @file.yml, or a JSON/YAML mapping.",
    )(func)


def limit_option(func: F) -> F:
    return click.option("-l", "--limit", metavar="PATTERN", help="Only these hosts/groups (Ansible pattern).")(func)


def artifacts_dir_option(func: F) -> F:
    return click.option("--artifacts-dir", type=click.Path(path_type=Path), metavar="DIR",
                        help="Parent of the per-run directory (default $OPENSHELL_AUTO_RUNS_DIR or ./runs).")(func)


def json_option(what: str) -> Callable[[F], F]:
    """--json: print WHAT as one JSON document instead of progress and tables."""
    return click.option("--json", "json_output", is_flag=True, help=f"Print {what} as JSON instead of progress and tables.")


def _apply(func: F, decorators: Sequence[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def inventory_option(func: F) -> F:
    """-i/--inventory, repeatable: what Ansible's inventory manager takes, minus scripts and plugins."""
    return click.option(
        "-i", "--inventory", "inventory", multiple=True, required=True, metavar="SOURCE",
        help="Inventory (repeatable): a YAML, INI or TOML file, a directory of them (with group_vars/ and "
             "host_vars/), or host1,host2,. Inventory scripts and plugins are refused.")(func)


# The common ansible-playbook options, passed through as ansible-playbook takes them.
ANSIBLE_OPTION_NAMES = ("user", "private_key", "ask_pass", "become", "become_user", "ask_become_pass", "vault_ids",
                        "ask_vault_pass", "vault_password_files", "diff", "forks", "verbosity")


def ansible_options(func: F) -> F:
    """-u, --private-key, -k, -b, -K, --become-user, --vault-id, --ask-vault-pass,
    --vault-password-file, -D, -f, -v: as ansible-playbook takes them; unset ones come from
    ansible.cfg (the user's when one is in force)."""
    return _apply(func, [
        click.option("-u", "--user", "user", metavar="USER", help="Connect as this user (remote_user)."),
        click.option("--private-key", "--key-file", "private_key", type=click.Path(path_type=Path), metavar="FILE",
                     help="SSH private key file (private_key_file)."),
        click.option("-k", "--ask-pass", "ask_pass", is_flag=True,
                     help="Ask for the connection (SSH) password (kept out of logs and artifacts)."),
        click.option("-b", "--become", "become", is_flag=True, help="Run tasks with privilege escalation (become)."),
        click.option("--become-user", "become_user", metavar="USER", help="Become this user (default root)."),
        click.option("-K", "--ask-become-pass", "ask_become_pass", is_flag=True,
                     help="Ask for the privilege escalation password (kept out of logs and artifacts)."),
        click.option("--vault-id", "vault_ids", multiple=True, metavar="LABEL@SOURCE",
                     help="Vault identity (repeatable): LABEL@FILE, LABEL@prompt or FILE."),
        click.option("-J", "--ask-vault-pass", "--ask-vault-password", "ask_vault_pass", is_flag=True,
                     help="Ask for the vault password."),
        click.option("--vault-password-file", "--vault-pass-file", "vault_password_files", multiple=True,
                     type=click.Path(path_type=Path), metavar="FILE", help="Vault password file (repeatable)."),
        click.option("-D", "--diff", "diff", is_flag=True,
                     help="Show differences in changed files (Ansible's output then reaches the console)."),
        click.option("-f", "--forks", "forks", type=int, metavar="N", help="Parallel hosts (default from ansible.cfg)."),
        click.option("-v", "--verbose", "verbosity", count=True,
                     help="More Ansible output (-vvv ...), shown on the console as Ansible prints it."),
    ])


def ansible_args_from(options: dict[str, Any], check: bool = False) -> Any:
    """Pop the ansible_options values out of a command's options -> a validated AnsibleArgs."""
    from openshell_auto.ansible_args import AnsibleArgs

    values = {name: options.pop(name) for name in ANSIBLE_OPTION_NAMES if name in options}
    args = AnsibleArgs(
        user=values.get("user"), private_key=values.get("private_key"), ask_pass=bool(values.get("ask_pass")),
        become=bool(values.get("become")),
        become_user=values.get("become_user"), ask_become_pass=bool(values.get("ask_become_pass")),
        vault_ids=tuple(values.get("vault_ids") or ()), ask_vault_pass=bool(values.get("ask_vault_pass")),
        vault_password_files=tuple(values.get("vault_password_files") or ()), check=check,
        diff=bool(values.get("diff")), forks=values.get("forks"), verbosity=int(values.get("verbosity") or 0))
    args.validate()
    return args


def prompt_secrets(args: Any) -> None:
    """Ask for the passwords the options and the ansible.cfg in force call for (after validation)."""
    from openshell_auto import paths
    from openshell_auto.runner import config_prompts

    args.prompt_secrets(ask_secret, config_prompts(paths.content()))


def ask_secret(prompt: str) -> str:
    """Read a password without echo; the prompt goes to stderr (stdout may carry --json)."""
    return str(click.prompt(prompt, hide_input=True, err=True, default="", show_default=False))


def playbook_options(func: F) -> F:
    """The options of every command that runs a playbook (see provision --help)."""
    return _apply(func, [
        inventory_option,
        limit_option,
        click.option("-t", "--tags", metavar="TAGS", help="Only tasks with these tags (comma separated)."),
        click.option("--skip-tags", metavar="TAGS", help="Skip tasks with these tags (comma separated)."),
        extra_vars_option,
        click.option("-C", "--check", is_flag=True, help="Dry run: report what would change, change nothing."),
        ansible_options,
        json_option("one summary on stdout"),
        artifacts_dir_option,
    ])


def check_limit(limit: str | None, hosts: Sequence[str], groups: Sequence[str]) -> None:
    """Reject a --limit naming a host or group that does not exist (plain names only)."""
    if not limit:
        return
    known = set(hosts) | set(groups)
    for part in limit.replace(":", ",").split(","):
        item = part.strip()
        if not item or set(item) & _PATTERN_CHARS:
            continue
        if item not in known:
            import difflib

            near = difflib.get_close_matches(item, sorted(known), n=1)
            hint = f"did you mean `{near[0]}`?" if near else "use a host or group name from the inventory"
            raise InputError(f"--limit {limit}: field limit: `{item}` is no host or group of the inventory; {hint}")


def execute_playbook(
    playbook: str,
    *,
    inventory: Sequence[Path | str] | Path | str,
    limit: str | None = None,
    tags: str | None = None,
    skip_tags: str | None = None,
    extra_vars: Sequence[str] = (),
    check: bool = False,
    json_output: bool = False,
    artifacts_dir: Path | None = None,
    **ansible: Any,
) -> int:
    """Validate input, run `playbook`, show progress + summary (or JSON); return the exit code.

    Exit codes: 0 every host fine, 1 a host failed or was unreachable (or ansible-playbook
    failed), 2 bad input (nothing ran), 130 interrupted.
    """
    from rich.console import Console

    from openshell_auto.airgap_sources import source_problems
    from openshell_auto.extra_vars import extra_vars_sources, parse_extra_vars
    from openshell_auto.inventory_sources import load_sources
    from openshell_auto.progress import make_progress, print_summary
    from openshell_auto.runner import run_playbook

    sources = [inventory] if isinstance(inventory, (str, Path)) else list(inventory)
    try:
        args = ansible_args_from(ansible, check=check)
        variables = parse_extra_vars(extra_vars)
        classified = load_sources(sources, variables)
        check_limit(limit, classified.hosts, list(classified.inventory.groups))
        if playbook in PLAYBOOKS_READING_SOURCES and (missing := source_problems(classified.inventory)):
            raise InputError(missing)
    except InputError as exc:
        if json_output:
            print(json.dumps({"playbook": playbook, "status": "invalid_input", "exit_code": EXIT_BAD_INPUT,
                              "errors": exc.messages}))
        raise

    console = Console(stderr=json_output)
    prompt_secrets(args)
    try:
        progress = make_progress(console, playbook, quiet=json_output, stream=args.streams)
        with progress if progress is not None else contextlib.nullcontext():
            result = run_playbook(playbook, sources, limit=limit, tags=tags, skip_tags=skip_tags,
                                  extra_vars=extra_vars_sources(extra_vars), runs_dir=artifacts_dir, display=progress,
                                  args=args)
    finally:
        args.cleanup()
    if json_output:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_summary(result, console)
    sys.stdout.flush()
    return result.exit_code

