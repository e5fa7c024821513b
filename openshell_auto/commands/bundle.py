"""`openshell-auto bundle`: fetch the air-gap inputs on a connected machine (see bundle.py)."""

from __future__ import annotations

from pathlib import Path

import click

from openshell_auto.options import extra_vars_option


@click.command()
@click.option("-o", "--outdir", type=click.Path(path_type=Path, file_okay=False), required=True, metavar="DIR",
              help="Directory the inputs and the vars file go to (created; files already there with the right "
                   "sum are kept).")
@click.option("--arch", "arches", multiple=True, default=("amd64",), show_default=True, metavar="ARCH",
              help="CPU architecture of the hosts (repeatable): amd64, arm64.")
@click.option("--toolkit-mirror-url", metavar="URL",
              help="Where DIR/toolkit will be served inside your network; written as "
                   "nvidia_container_toolkit_repo_base_url (without it the variable is left commented).")
@click.option("--skip", multiple=True, type=click.Choice(["k3s", "chart", "toolkit", "image"]),
              help="Leave out a part (repeatable).")
@extra_vars_option
def bundle(outdir: Path, arches: tuple[str, ...], toolkit_mirror_url: str | None, skip: tuple[str, ...],
           extra_vars: tuple[str, ...]) -> None:
    """Fetch every air-gap input at the pinned versions, check every sum, write DIR/openshell-airgap.yml.

    Versions and URLs are the roles' defaults; -e overrides them as provision takes them (a mirror:
    -e k3s_release_url=https://mirror/k3s). Use the result with `-e @DIR/openshell-airgap.yml`."""
    from openshell_auto.bundle import build
    from openshell_auto.extra_vars import parse_extra_vars

    _, written = build(outdir.expanduser().absolute(), arches, parse_extra_vars(extra_vars),
                       mirror_url=toolkit_mirror_url, skip=skip, say=click.echo)
    for path in written:
        click.echo(f"wrote {path}")
