"""Options and the run-a-playbook flow shared by provision, verify, doctor and reset.

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


def playbook_options(func: F) -> F:
    """The options of every command that runs a playbook (see provision --help)."""
    decorators = [
        click.option("-i", "--inventory", type=click.Path(path_type=Path), required=True,
                     help="YAML inventory file (see inventories/example/hosts.yml)."),
        click.option("-l", "--limit", metavar="PATTERN", help="Only these hosts/groups (Ansible pattern)."),
        click.option("-t", "--tags", metavar="TAGS", help="Only tasks with these tags (comma separated)."),
        click.option("--skip-tags", metavar="TAGS", help="Skip tasks with these tags (comma separated)."),
        extra_vars_option,
        click.option("--check", is_flag=True, help="Dry run: report what would change, change nothing."),
        click.option("--diff", is_flag=True, help="Show differences in changed files."),
        click.option("--forks", type=int, metavar="N", help="Parallel hosts (default from ansible.cfg)."),
        click.option("-v", "--verbose", "verbosity", count=True, help="More Ansible output in the artifacts."),
        click.option("--json", "json_output", is_flag=True,
                     help="Print one JSON summary on stdout instead of progress and tables."),
        click.option("--artifacts-dir", type=click.Path(path_type=Path), metavar="DIR",
                     help="Parent of the per-run directory (default $OPENSHELL_AUTO_RUNS_DIR or ./runs)."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def check_limit(limit: str | None, hosts: Sequence[str], groups: Sequence[str]) -> None:
    """Reject a --limit naming a host or group that does not exist (plain names only)."""
    if not limit:
        return
    known = set(hosts) | set(groups)
    for item in limit.replace(":", ",").split(","):
        item = item.strip()
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
    inventory: Path,
    limit: str | None = None,
    tags: str | None = None,
    skip_tags: str | None = None,
    extra_vars: Sequence[str] = (),
    check: bool = False,
    diff: bool = False,
    forks: int | None = None,
    verbosity: int = 0,
    json_output: bool = False,
    artifacts_dir: Path | None = None,
) -> int:
    """Validate input, run `playbook`, show progress + summary (or JSON); return the exit code.

    Exit codes: 0 every host fine, 1 a host failed or was unreachable (or ansible-playbook
    failed), 2 bad input (nothing ran), 130 interrupted.
    """
    from rich.console import Console

    from openshell_auto.airgap_sources import source_problems
    from openshell_auto.extra_vars import extra_vars_sources, parse_extra_vars
    from openshell_auto.inventory import load_inventory
    from openshell_auto.progress import make_progress, print_summary
    from openshell_auto.runner import run_playbook

    try:
        if forks is not None and forks < 1:
            raise InputError(f"--forks {forks}: field forks: must be 1 or more")
        variables = parse_extra_vars(extra_vars)
        classified = load_inventory(inventory, variables)
        check_limit(limit, classified.hosts, list(classified.inventory.groups))
        if playbook in PLAYBOOKS_READING_SOURCES and (missing := source_problems(classified.inventory)):
            raise InputError(missing)
    except InputError as exc:
        if json_output:
            print(json.dumps({"playbook": playbook, "status": "invalid_input", "exit_code": EXIT_BAD_INPUT,
                              "errors": exc.messages}))
        raise

    console = Console(stderr=json_output)
    progress = make_progress(console, playbook, quiet=json_output)
    with progress if progress is not None else contextlib.nullcontext():
        result = run_playbook(playbook, inventory, limit=limit, tags=tags, skip_tags=skip_tags,
                              extra_vars=extra_vars_sources(extra_vars), check=check, diff=diff, forks=forks, verbosity=verbosity,
                              runs_dir=artifacts_dir, display=progress)
    if json_output:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_summary(result, console)
    sys.stdout.flush()
    return result.exit_code

