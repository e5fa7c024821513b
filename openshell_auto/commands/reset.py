"""`openshell-auto reset`: uninstall k3s and remove what the roles wrote (playbooks/reset.yml)."""

from __future__ import annotations

from typing import Any

import click

from openshell_auto.errors import InputError
from openshell_auto.options import execute_playbook, playbook_options


@click.command()
@click.option("--yes", is_flag=True, help="Confirm: k3s, its data and the cluster's workloads are deleted.")
@click.option("--gpu-layer", is_flag=True,
              help="Also remove the GPU layer from GPU hosts: the toolkit package, its hold, repository and key, "
                   "the CDI specs, the refresh units and settings, /var/lib/openshell-auto "
                   "(sets openshell_reset_gpu_layer).")
@playbook_options
def reset(yes: bool, gpu_layer: bool, **options: Any) -> None:
    """Uninstall k3s from every host and remove what provision wrote (destructive; needs --yes)."""
    if not yes and not options.get("check"):
        raise InputError(
            "field yes: reset deletes k3s, its data dir (/var/lib/rancher/k3s) and every workload on "
            f"the hosts of {', '.join(map(str, options['inventory']))}; pass --yes to confirm (or --check for a dry run)"
        )
    if gpu_layer:  # last, so it wins over an -e that says otherwise
        options["extra_vars"] = (*options.get("extra_vars", ()), '{"openshell_reset_gpu_layer": true}')
    raise SystemExit(execute_playbook("reset.yml", **options))
