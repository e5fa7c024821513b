"""Filters of playbooks/remove_node.yml: whether a node may leave the cluster (the rule the CLI's
remove-node applies before anything runs: plugins/module_utils/node_removal.py).

`node | openshell_node_removal_problem(hosts, servers, first_server, nodes_json, node_names)` is ''
when the node may be removed, else the reason; nodes_json is `k3s kubectl get nodes -o json`
parsed, node_names maps inventory hosts to their node names (k3s_node_name)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import node_removal
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def openshell_node_removal_problem(node: Any, hosts: Any, servers: Any, first_server: Any, nodes: Any = None,
                                   node_names: Any = None) -> str:
    ready = None
    if nodes is not None:
        ready = node_removal.ready_by_host(plain(nodes), {str(k): str(v) for k, v in dict(plain(node_names) or {}).items()})
    problem = node_removal.node_removal_problem(plain(node), [str(h) for h in plain(hosts)],
                                                [str(s) for s in plain(servers)], plain(first_server), ready)
    return problem or ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"openshell_node_removal_problem": openshell_node_removal_problem}
