"""Filter of the k3s role: what to do about SELinux on a host (module_utils.k3s_selinux)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_selinux import k3s_selinux_plan


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_selinux_plan": k3s_selinux_plan}
