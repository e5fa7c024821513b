"""`openshell-auto render`: write every file the roles would template, without contacting hosts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from openshell_auto.options import extra_vars_option, json_option


@click.command()
@click.option("-i", "--inventory", type=click.Path(path_type=Path), default=None,
              help="YAML inventory file (default: the bundled example inventory).")
@click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path("render"), show_default=True,
              help="Output directory; files land in OUTDIR/<host>/<absolute path on the host>.")
@json_option("what was written")
@extra_vars_option
def render(inventory: Path | None, outdir: Path, extra_vars: tuple[str, ...], json_output: bool) -> None:
    """Render the files the roles would write on each host, offline (no host contacted)."""
    from rich.console import Console

    from openshell_auto import paths
    from openshell_auto.render import print_render_table, render_inventory

    source = inventory if inventory is not None else paths.content().example_inventory
    result = render_inventory(source, outdir, extra_vars)
    if json_output:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        print_render_table(result, Console())
