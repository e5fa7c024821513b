"""May this node leave the cluster? One rule for `openshell-auto remove-node` (before anything runs)
and for playbooks/remove_node.yml (filter openshell_node_removal_problem, again with the servers'
Ready conditions read from the cluster).

The rule, for a cluster whose servers run embedded etcd (every server is an etcd member):
  * the node must be a host of the inventory (the name is compared, never used as a pattern);
  * an agent may always leave;
  * the last server may not leave (the cluster would have no control plane and no datastore);
  * the first server (openshell_first_server) may not leave: every joining node takes the server
    URL and the join token from it. Make another server the first one in the inventory first;
  * a server may leave only while every OTHER server is Ready. Removing it leaves N-1 etcd
    members; etcd keeps quorum while a majority of its members is up, floor((N-1)/2)+1 of N-1.
    Requiring all of the remaining members to be up is stronger and needs no knowledge of which
    members etcd itself counts as healthy: any server not Ready refuses the removal, with its name.
When the Ready conditions are not known (the CLI, before connecting to anything), the last two
checks that need none still apply and the Ready check is left to the playbook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def node_removal_problem(node: Any, hosts: Iterable[str], servers: Iterable[str], first_server: Any,
                         ready: Mapping[str, bool] | None = None) -> str | None:
    """None when `node` may be removed, else the reason (one line, naming the field and the fix).

    hosts: every inventory host; servers: the inventory's servers; first_server: openshell_first_server;
    ready: inventory host -> its node is Ready (servers at least), or None when not known yet.
    """
    host_list, server_list = list(hosts), list(servers)
    if not isinstance(node, str) or not node:
        return "field node: give the inventory name of the host to remove"
    if node not in host_list:
        shown = node if node.isprintable() and len(node) <= 80 else repr(node[:80])
        return f"field node: `{shown}` is no host of the inventory; give one of its host names"
    if node not in server_list:
        return None
    remaining = [s for s in server_list if s != node]
    if not remaining:
        return (f"field node: {node} is the last server: removing it would leave no control plane and no "
                "datastore; use `openshell-auto reset` to remove the whole cluster")
    if node == first_server:
        return (f"field node: {node} is the first server (openshell_first_server): joining nodes take the "
                "server URL and the join token from it; set openshell_first_server to another server "
                f"({', '.join(remaining)}) and provision once before removing {node}")
    if ready is not None:
        down = [s for s in remaining if not ready.get(s, False)]
        if down:
            return (f"field node: removing server {node} would leave etcd {len(remaining)} member(s), of which "
                    f"{', '.join(down)} {'is' if len(down) == 1 else 'are'} not Ready: etcd could lose quorum; "
                    "bring every other server back to Ready first")
    return None


def ready_by_host(nodes: Any, node_names: Mapping[str, str]) -> dict[str, bool]:
    """inventory host -> whether its node reports condition Ready=True, from `kubectl get nodes -o json`.
    node_names: inventory host -> its Kubernetes node name (k3s_node_name). Hosts without a node: False."""
    items = nodes.get("items", []) if isinstance(nodes, Mapping) else (nodes or [])
    status: dict[str, bool] = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name = (item.get("metadata") or {}).get("name")
        conditions = (item.get("status") or {}).get("conditions") or []
        status[str(name)] = any(isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
                                for c in conditions)
    return {host: status.get(name, False) for host, name in node_names.items()}
