"""Wheel build hook: the collection goes into regular wheels only.

A regular wheel carries the Ansible collection openshell_auto.cluster as
site-packages/ansible_collections/openshell_auto/cluster/ (the mapping is the hook's ``collection``
table in pyproject.toml). An editable install must not: hatchling copies a wheel target's
``force-include`` into editable wheels too, and that frozen copy of roles, playbooks and
module_utils would shadow the checkout on sys.path. An editable install needs none of it: its .pth
puts the checkout on sys.path, where ansible_collections/openshell_auto/cluster links back to the
repository root.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the ``collection`` mapping to ``force_include`` for the standard wheel only."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version != "standard":
            return
        mapping = self.config.get("collection", {})
        if not isinstance(mapping, dict) or not mapping:
            raise ValueError("tool.hatch.build.targets.wheel.hooks.custom.collection must be a non-empty table "
                             "of checkout path = path inside the wheel")
        build_data["force_include"].update(mapping)
