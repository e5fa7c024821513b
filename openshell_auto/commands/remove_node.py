"""`openshell-auto remove-node -i INV NODE`: take one node out of the cluster (playbooks/remove_node.yml).

NODE must be a host of the inventory; it reaches the playbook as a JSON extra variable
(openshell_remove_node), never through a shell or as a host pattern. Whether it may leave is the
rule of plugins/module_utils/node_removal.py, checked here before anything runs (exit 2) and again
in the playbook with the servers' Ready conditions.
"""

from __future__ import annotations

import json
from typing import Any

import click

from openshell_auto.errors import EXIT_BAD_INPUT, InputError
from openshell_auto.options import execute_playbook, playbook_options

MAX_DRAIN_TIMEOUT_S = 86400


def _first_server(classified: Any, node: str) -> str | None:
    """openshell_first_server as the inventory sets it (a plain server name), else the first server."""
    value = classified.vars.get(node, {}).get("openshell_first_server")
    if isinstance(value, str) and value in classified.servers:
        return value
    first: str | None = classified.first_server
    return first


def check_removal(node: str, options: dict[str, Any]) -> None:
    """Refuse bad input before anything runs: the node, the limit, the inventory (InputError, exit 2)."""
    from ansible_collections.openshell_auto.cluster.plugins.module_utils.node_removal import node_removal_problem

    from openshell_auto.extra_vars import parse_extra_vars
    from openshell_auto.inventory_sources import load_sources

    if options.get("limit"):
        raise InputError("field limit: remove-node works on NODE and the first server only; drop --limit")
    classified = load_sources(list(options["inventory"]), parse_extra_vars(options.get("extra_vars", ())))
    problem = node_removal_problem(node, classified.hosts, classified.servers,
                                   _first_server(classified, node) if node in classified.hosts else None)
    if problem:
        raise InputError(problem)


@click.command("remove-node")
@click.argument("node")
@click.option("--yes", is_flag=True, help="Confirm: the node is drained, deleted from the cluster and loses k3s.")
@click.option("--gpu-layer", is_flag=True,
              help="Also remove the GPU layer from the node (as reset --gpu-layer; sets openshell_reset_gpu_layer).")
@click.option("--drain-timeout", type=click.IntRange(1, MAX_DRAIN_TIMEOUT_S), metavar="SECONDS",
              help="Give up draining after this long (openshell_remove_node_drain_timeout, default 300).")
@playbook_options
def remove_node(node: str, yes: bool, gpu_layer: bool, drain_timeout: int | None, **options: Any) -> None:
    """Cordon, drain and delete NODE (an inventory host), then uninstall k3s on it (destructive; needs --yes)."""
    try:
        check_removal(node, options)
        if not yes and not options.get("check"):
            raise InputError(f"field yes: remove-node drains {node}, deletes it from the cluster and uninstalls k3s "
                             "there; pass --yes to confirm (or --check for a dry run)")
    except InputError as exc:
        if options.get("json_output"):  # the document execute_playbook prints for bad input
            print(json.dumps({"playbook": "remove_node.yml", "status": "invalid_input", "exit_code": EXIT_BAD_INPUT,
                              "errors": exc.messages}))
        raise
    extra: dict[str, Any] = {"openshell_remove_node": node}
    if gpu_layer:
        extra["openshell_reset_gpu_layer"] = True
    if drain_timeout is not None:
        extra["openshell_remove_node_drain_timeout"] = drain_timeout
    # last, so it wins over an -e that says otherwise
    options["extra_vars"] = (*options.get("extra_vars", ()), json.dumps(extra))
    raise SystemExit(execute_playbook("remove_node.yml", **options))
