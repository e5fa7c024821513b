"""Filters of the upgrade steps (roles/k3s/tasks/upgrade_plan.yml, settings.yml,
roles/nvidia_container_toolkit/tasks/upgrade_plan.yml): module_utils.upgrades, the rule the CLI's
inventory check uses too."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import upgrades
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def openshell_upgrade_batch_problem(value: Any) -> str:
    return upgrades.agent_batch_problem(plain(value)) or ""


def openshell_upgrade_batch_group(value: Any, what: str) -> str:
    return upgrades.agent_batch_group(plain(value), str(what))


def k3s_snapshot_name_problem(value: Any) -> str:
    return upgrades.snapshot_name_problem(plain(value)) or ""


def openshell_api_node(result: Any, name: Any) -> dict[str, Any]:
    return upgrades.api_node(plain(result), str(name))


def k3s_node_settled(node: Any, release: Any) -> bool:
    return upgrades.node_settled(plain(node), str(release))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"openshell_upgrade_batch_problem": openshell_upgrade_batch_problem,
                "openshell_upgrade_batch_group": openshell_upgrade_batch_group,
                "k3s_snapshot_name_problem": k3s_snapshot_name_problem,
                "openshell_api_node": openshell_api_node,
                "k3s_node_settled": k3s_node_settled}
