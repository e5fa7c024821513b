"""Filters of the k3s role's upgrade steps (tasks/upgrade_plan.yml, tasks/settings.yml):
module_utils.k3s_upgrade, the rule the CLI's inventory check uses too."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import k3s_upgrade
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def k3s_agent_batch_problem(value: Any) -> str:
    return k3s_upgrade.agent_batch_problem(plain(value)) or ""


def k3s_agent_batch_group(value: Any) -> str:
    return k3s_upgrade.agent_batch_group(plain(value))


def k3s_snapshot_name_problem(value: Any) -> str:
    return k3s_upgrade.snapshot_name_problem(plain(value)) or ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_agent_batch_problem": k3s_agent_batch_problem,
                "k3s_agent_batch_group": k3s_agent_batch_group,
                "k3s_snapshot_name_problem": k3s_snapshot_name_problem}
