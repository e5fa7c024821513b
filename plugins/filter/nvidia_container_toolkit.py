"""Filter of role nvidia_container_toolkit: the driver version in /proc/driver/nvidia/version
(module_utils.nvidia_driver, the rule the doctor and verify read the same file with)."""

from __future__ import annotations

from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import nvidia_driver
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


def nvidia_container_toolkit_driver_version(text: Any) -> str:
    return nvidia_driver.version_from_file(plain(text))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"nvidia_container_toolkit_driver_version": nvidia_container_toolkit_driver_version}
