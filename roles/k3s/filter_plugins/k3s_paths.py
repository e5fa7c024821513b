"""Filters of the k3s role for the paths `reset` removes (the CLI applies the same rule).

`k3s_removal_problems` returns one line per path that must not be removed: not absolute, not
normalised, characters a shell or a line-based file would read as syntax, or a system directory
such as /, /etc, /usr, /var or /home. The rule is `openshell_auto.hostile.removable_path_problem`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if importlib.util.find_spec("openshell_auto") is None:  # a checkout without `pip install`: add its root
    sys.path.append(str(Path(__file__).resolve().parents[3]))  # roles/<role>/filter_plugins/ -> root

from openshell_auto import hostile  # noqa: E402
from openshell_auto.ansible_glue import plain  # noqa: E402


def k3s_removal_problems(paths: Mapping[str, Any], contents_only: Any = ()) -> list[str]:
    """{variable: path} -> ["variable: problem", ...]; empty when every path may be removed.
    Variables named in contents_only only have a file removed inside them (no system-dir rule)."""
    within = set(plain(contents_only) or ())
    problems = []
    for name, value in plain(dict(paths)).items():
        problem = hostile.removable_path_problem(value, contents_only=name in within)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"k3s_removal_problems": k3s_removal_problems}
