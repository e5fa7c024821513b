"""Filters of role nvidia_device_plugin: the plugin's sharing rules and the allocatable GPUs each
node should advertise, decided by module_utils.device_plugin (shared with the CLI)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import device_plugin


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "nvidia_device_plugin_sharing_problems": device_plugin.sharing_problems,
            "nvidia_device_plugin_allocatable_mismatches": device_plugin.allocatable_mismatches,
            "nvidia_device_plugin_daemonset_ready": device_plugin.daemonset_list_ready,
        }
