"""Filter of the k3s role: which k3s_version values the project accepts (openshell_auto.k3s_release,
the rule the CLI's inventory check uses too)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto.k3s_release import k3s_version_problem


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_version_problem": k3s_version_problem}
