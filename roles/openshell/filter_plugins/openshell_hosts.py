"""Filters of role openshell: a host's name, address and Kubernetes node name checked before any
connection (the CLI applies the same rules to the inventory: openshell_auto/hostile.py).

`openshell_host_problems(host, address, node_name)` returns one line per problem: a host name
that is a path, an ansible_host that is neither an IP address nor a DNS name (`-oProxyCommand=...`
would reach ssh as an option), a node name k3s would refuse (RFC 1123)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto import hostile  # noqa: E402
from openshell_auto.ansible_glue import plain  # noqa: E402


def openshell_host_problems(host: Any, address: Any, node_name: Any) -> list[str]:
    checks = (("inventory_hostname", hostile.host_name_problem, plain(host)),
              ("ansible_host", hostile.address_problem, plain(address)),
              ("k3s_node_name", hostile.node_name_problem, plain(node_name)))
    return [f"field {name}: {problem}" for name, check, value in checks if (problem := check(value))]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"openshell_host_problems": openshell_host_problems}
