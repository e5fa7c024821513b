"""Filters of role nvidia_device_plugin: the plugin's sharing rules and the allocatable GPUs each
node should advertise, decided by openshell_auto.device_plugin (shared with the CLI)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto import device_plugin


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "nvidia_device_plugin_sharing_problems": device_plugin.sharing_problems,
            "nvidia_device_plugin_allocatable_mismatches": device_plugin.allocatable_mismatches,
        }
