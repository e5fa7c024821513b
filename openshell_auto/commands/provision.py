"""`openshell-auto provision`: run playbooks/site.yml on an inventory."""

from __future__ import annotations

from typing import Any

import click

from openshell_auto.options import execute_playbook, playbook_options


@click.command()
@playbook_options
def provision(**options: Any) -> None:
    """Set up every host of the inventory (runs playbooks/site.yml)."""
    raise SystemExit(execute_playbook("site.yml", **options))
