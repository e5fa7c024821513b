"""Filter `nvidia_cdi_problems`: CDI rule checks of the nvidia_cdi role, run on the controller.

The rules live once, in openshell_auto/cdi.py (also used by pytest and the doctor). This plugin
imports that module from the installed package or, in a checkout, from beside roles/.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.errors import AnsibleFilterError


def _cdi_module() -> ModuleType:
    try:
        import openshell_auto.cdi as cdi

        return cdi
    except ImportError:
        pass
    here = Path(__file__).resolve()
    # checkout: <root>/roles/nvidia_cdi/filter_plugins; wheel: openshell_auto/_data/roles/...
    for candidate in (here.parents[3] / "openshell_auto" / "cdi.py", here.parents[4] / "cdi.py"):
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location("openshell_auto_cdi", candidate)
            if spec and spec.loader:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
    raise AnsibleFilterError(
        "nvidia_cdi_problems: openshell_auto/cdi.py not found; install openshell-auto (pip install openshell-auto) "
        "or run from a checkout"
    )


def nvidia_cdi_problems(
    slurped: list[dict[str, Any]], listed: list[str], gpu_count: int, strategy: str, platform: str = "nvml"
) -> list[str]:
    """Problems for one host from slurp results of its spec files and `nvidia-ctk cdi list` output.

    platform: nvidia_container_toolkit_platform (nvml, wsl, tegra-csv); it decides which names
    `nvidia-ctk cdi generate` writes there (openshell_auto.cdi.required_names)."""
    cdi = _cdi_module()
    specs: list[tuple[str, Any]] = []
    problems: list[str] = []
    for result in slurped:
        source = result.get("source") or result.get("item") or "<spec>"
        try:
            specs.append((source, cdi.load_spec_text(base64.b64decode(result["content"]).decode("utf-8"))))
        except Exception as exc:  # a broken file is a finding, not a crash
            problems.append(f"{source}: not valid YAML/JSON ({exc}); delete or regenerate it")
    names = [line.strip() for line in listed if "=" in line and "/" in line.split("=", 1)[0]]
    if platform not in cdi.PLATFORMS:
        raise AnsibleFilterError(f"nvidia_cdi_problems: platform {platform!r} is not one of {', '.join(cdi.PLATFORMS)}")
    return problems + cdi.check_host(specs, names, int(gpu_count), strategy, platform=platform)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"nvidia_cdi_problems": nvidia_cdi_problems}
