"""Filter of the k3s role: which k3s_version values the project accepts (module_utils.k3s_release,
the rule the CLI's inventory check uses too)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_release import k3s_version_problem


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_version_problem": k3s_version_problem}
