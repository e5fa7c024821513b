"""Which host is the first server (it initialises the cluster; joining nodes take the server URL
and the join token from it): one decision for the CLI (openshell_auto.inventory.classify) and role
openshell (roles/openshell/tasks/classify.yml, through filter openshell_first_server).

Both hand over the value of openshell_first_server as Ansible templates it for the host (the
CLI templates a Jinja value with Ansible's Templar first; a plain name is used as it is), the
hosts of the server group and of the agent group, in inventory order. No ansible import here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import shown


def first_server(value: Any, servers: Sequence[str], agents: Sequence[str]) -> tuple[str, str | None]:
    """(the first server, None), or ('', the problem and its fix). An empty value means the first
    host of the server group, as the role default `(groups[openshell_server_group] + ['']) | first`
    reads; no server at all is the layout check's refusal, not this one's ('', None)."""
    if value is None or value == "":
        return (str(servers[0]) if servers else ""), None
    if not isinstance(value, str):
        return "", f"`{shown(value)}` is not a host name; name a host of the server group"
    if value in servers:
        return value, None
    if value in agents:
        return "", f"`{shown(value)}` is an agent; name a host of the server group (it initialises the cluster)"
    return "", f"`{shown(value)}` is no host of the inventory; name a host of the server group"
