"""Filters of the k3s role: which k3s_version values the project accepts and which releases embed
containerd 1.7 (module_utils.k3s_release, the reading of k3s_version the CLI's inventory check uses too)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_release import embeds_containerd_1_7, k3s_version_problem


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_version_problem": k3s_version_problem,
                "k3s_embeds_containerd_1_7": embeds_containerd_1_7}
