"""Filter of the k3s role: what to do about SELinux on a host (openshell_auto.k3s_selinux)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto.k3s_selinux import k3s_selinux_plan


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_selinux_plan": k3s_selinux_plan}
