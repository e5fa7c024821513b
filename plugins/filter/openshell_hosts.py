"""Filters of role openshell: a host's name, address and Kubernetes node name checked before any
connection (the CLI applies the same rules to the inventory: plugins/module_utils/hostile.py).

`openshell_host_problems(host, address, node_name)` returns one line per problem: a host name
that is a path, an ansible_host that is neither an IP address nor a DNS name (`-oProxyCommand=...`
would reach ssh as an option), a node name k3s would refuse (RFC 1123).

`openshell_first_server | openshell_first_server(servers, agents)` is {name, problem}: the first
server the (templated) value names, or '' and why not (plugins/module_utils/first_server.py, the
decision the CLI makes too)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile
from ansible_collections.openshell_auto.cluster.plugins.module_utils.first_server import first_server
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def openshell_host_problems(host: Any, address: Any, node_name: Any) -> list[str]:
    checks = (("inventory_hostname", hostile.host_name_problem, plain(host)),
              ("ansible_host", hostile.address_problem, plain(address)),
              ("k3s_node_name", hostile.node_name_problem, plain(node_name)))
    return [f"field {name}: {problem}" for name, check, value in checks if (problem := check(value))]


def openshell_first_server(value: Any, servers: Any, agents: Any) -> dict[str, str]:
    name, problem = first_server(plain(value), [str(h) for h in plain(servers) or []],
                                 [str(h) for h in plain(agents) or []])
    return {"name": name, "problem": problem or ""}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"openshell_host_problems": openshell_host_problems,
                "openshell_first_server": openshell_first_server}
