"""Filters `nvidia_cdi_problems` (CDI rule checks of the nvidia_cdi role, run on the controller) and
`nvidia_cdi_probe_files` (the spec files its probe read, tasks/validate.yml).

The rules live once, in plugins/module_utils/cdi.py (also used by pytest, the doctor and the CLI).
"""

from __future__ import annotations

import base64
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi


def nvidia_cdi_problems(
    slurped: list[dict[str, Any]], listed: list[str], gpu_count: int, strategy: str, platform: str = "nvml"
) -> list[str]:
    """Problems for one host from slurp results of its spec files and `nvidia-ctk cdi list` output.

    platform: nvidia_container_toolkit_platform (nvml, wsl, tegra-csv); it decides which names
    `nvidia-ctk cdi generate` writes there (module_utils.cdi.required_names)."""
    specs: list[tuple[str, Any]] = []
    problems: list[str] = []
    for result in slurped:
        source = result.get("source") or result.get("item") or "<spec>"
        try:
            specs.append((source, cdi.load_spec_text(base64.b64decode(result["content"]).decode("utf-8"))))
        except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
            problems.append(f"{source}: not valid YAML/JSON ({exc}); delete or regenerate it")
    names = cdi.listed_names(listed)
    if platform not in cdi.PLATFORMS:
        raise AnsibleFilterError(f"nvidia_cdi_problems: platform {platform!r} is not one of {', '.join(cdi.PLATFORMS)}")
    return problems + cdi.check_host(specs, names, int(gpu_count), strategy, platform=platform)


def nvidia_cdi_probe_files(lines: list[str]) -> list[dict[str, str]]:
    """The spec files from the validate probe's `file <base64 content> <path>` lines, shaped like
    ansible.builtin.slurp's loop results (item: the path, content: base64) and sorted by path."""
    files = []
    for line in lines:
        if line.startswith("file "):
            _, content, path = (line.split(" ", 2) + ["", ""])[:3]
            files.append({"item": path, "content": content})
    return sorted(files, key=lambda f: f["item"])


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"nvidia_cdi_problems": nvidia_cdi_problems, "nvidia_cdi_probe_files": nvidia_cdi_probe_files}
