"""Air-gap source files (`*_src` role variables) checked on the controller before anything runs.

Every `*_src` option of the roles names a file on the controller that a play copies to the hosts
(the k3s binary and its sums, image archives, the chart, signing keys). A missing or unreadable
one used to surface only after facts were gathered, mid-run; `source_problems` finds it up front,
one line per problem naming the file:line, the variable and the fix. The plays still hash every
file before they use it; this check only makes a wrong path fail early.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from openshell_auto.inventory_checks import is_template, owner_text
from openshell_auto.inventory_model import Inventory, variable_blocks
from openshell_auto.specs import Specs, load_specs


def source_variables(specs: Specs) -> list[str]:
    """The role options that name a controller-side file."""
    return sorted(name for name in specs.options if name.endswith("_src"))


def path_problem(value: str) -> str | None:
    """Why `value` cannot be read as an air-gap source file on this controller, or None."""
    path = Path(value)
    if not path.is_absolute():
        return (f"'{value[:200]}' is a relative path (plays run from the content directory, not from where "
                "you run the command); give the file's absolute path on the controller")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"'{value[:200]}' does not exist on the controller; copy the file there or fix the path"
    except OSError as exc:  # a symlink loop, a name too long, a directory without search permission
        return f"'{value[:200]}' cannot be read on the controller ({exc.strerror}); fix the path"
    if not stat.S_ISREG(mode):
        return f"'{value[:200]}' is not a regular file; name the file itself"
    if not os.access(path, os.R_OK):
        return f"'{value[:200]}' is not readable by this user; fix its permissions"
    return None


def source_problems(inventory: Inventory, specs: Specs | None = None) -> list[str]:
    """One message per `*_src` value (inventory, vars files, -e) that names no readable file.
    An inventory value that -e sets again is never used (extra vars win for every host): only the
    -e value is checked, so `-e @DIR/openshell-airgap.yml` from `bundle` replaces the inventory's."""
    names = set(source_variables(specs or load_specs()))
    overridden = set(inventory.extra_vars)
    problems: list[str] = []
    for block in variable_blocks(inventory):
        shadowed = overridden if block.owner_kind != "extra vars" else set()
        for name in sorted((names & set(block.values)) - shadowed):
            value: Any = block.values[name]
            if not isinstance(value, str) or not value or is_template(value):
                continue  # types are checked with the inventory; templates resolve per host in the play
            problem = path_problem(value)
            if problem:
                problems.append(f"{block.where(name)}: {owner_text(block)}: field {name}: {problem}")
    return problems
