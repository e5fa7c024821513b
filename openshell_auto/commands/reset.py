"""`openshell-auto reset`: uninstall k3s and remove what the roles wrote (playbooks/reset.yml)."""

from __future__ import annotations

from typing import Any

import click

from openshell_auto.errors import InputError
from openshell_auto.options import execute_playbook, playbook_options


@click.command()
@click.option("--yes", is_flag=True, help="Confirm: k3s, its data and the cluster's workloads are deleted.")
@playbook_options
def reset(yes: bool, **options: Any) -> None:
    """Uninstall k3s from every host and remove what provision wrote (destructive; needs --yes)."""
    if not yes and not options.get("check"):
        raise InputError(
            "field yes: reset deletes k3s, its data dir (/var/lib/rancher/k3s) and every workload on "
            f"the hosts of {', '.join(map(str, options['inventory']))}; pass --yes to confirm (or --check for a dry run)"
        )
    raise SystemExit(execute_playbook("reset.yml", **options))
