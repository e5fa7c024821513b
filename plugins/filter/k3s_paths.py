"""Filters of the k3s role for the paths `reset` removes (the CLI applies the same rule).

`k3s_removal_problems` returns one line per path that must not be removed: not absolute, not
normalised, characters a shell or a line-based file would read as syntax, or a system directory
such as /, /etc, /usr, /var or /home. The rule is `module_utils.hostile.removable_path_problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile
from ansible_collections.openshell_auto.cluster.plugins.module_utils.ansible_glue import plain


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
