"""Filters of the k3s role's firewall step (tasks/firewall.yml): the settings' problems, the nodes'
source addresses, the rules a node needs and those an active ufw or firewalld lacks
(module_utils.k3s_firewall, the rule the CLI's inventory check uses too)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import k3s_firewall
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def k3s_firewall_problems(mode: Any, sources: Any, zone: Any) -> list[str]:
    return k3s_firewall.settings_problems(plain(mode), plain(sources), plain(zone))


def k3s_firewall_sources(names: Any, columns: Any, extra: Any) -> dict[str, Any]:
    return k3s_firewall.node_sources(plain(names), plain(columns), plain(extra))


def k3s_firewall_rules(is_server: Any, cluster: Any, embedded_etcd: Any, nodes: Any, servers: Any) -> list[dict[str, Any]]:
    return k3s_firewall.rules(bool(is_server), plain(cluster), bool(embedded_etcd), plain(nodes), plain(servers))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_firewall_problems": k3s_firewall_problems,
                "k3s_firewall_sources": k3s_firewall_sources,
                "k3s_firewall_rules": k3s_firewall_rules,
                "k3s_firewall_ufw_missing": k3s_firewall.ufw_missing,
                "k3s_firewall_firewalld_missing": k3s_firewall.firewalld_missing}
