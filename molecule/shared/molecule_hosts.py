"""testinfra host list for Molecule verifiers: every instance of the scenario over podman://.

Usage in a scenario's tests/test_*.py:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
    from molecule_hosts import podman_hosts
    testinfra_hosts = podman_hosts()              # all instances
    testinfra_hosts = podman_hosts("openshell_agents")   # members of one inventory group
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml


def _inventory() -> dict:
    path = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not path or not Path(path).is_file():
        raise RuntimeError("MOLECULE_INVENTORY_FILE is not set: run these tests through `molecule verify`")
    return yaml.safe_load(Path(path).read_text()) or {}


def _group_hosts(node: dict, group: str | None, inside: bool) -> set[str]:
    found: set[str] = set(node.get("hosts") or {}) if inside else set()
    for name, child in (node.get("children") or {}).items():
        found |= _group_hosts(child or {}, group, inside or name == group)
    return found


def podman_hosts(group: str | None = None) -> list[str]:
    """Return `podman://NAME` for the scenario's instances, optionally one group's only."""
    names = _group_hosts(_inventory().get("all", {}), group, group is None)
    return [f"podman://{name}" for name in sorted(names)]


def _without_lookups(node: Any) -> Any:
    """A variables mapping without Molecule's bookkeeping (`molecule_*`) and without values that
    template a lookup or query."""
    if not isinstance(node, dict):
        return node
    return {key: value for key, value in node.items()
            if not str(key).startswith("molecule_") and not re.search(r"\b(lookup|query|q)\s*\(", str(value))}


def _clean_inventory(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(out.get("vars"), dict):
        out["vars"] = _without_lookups(out["vars"])
    if isinstance(out.get("hosts"), dict):
        out["hosts"] = {name: _without_lookups(hostvars) for name, hostvars in out["hosts"].items()}
    if isinstance(out.get("children"), dict):
        out["children"] = {name: _clean_inventory(child) for name, child in out["children"].items()}
    return out


def cli_inventory(dest: Path) -> Path:
    """This scenario's inventory as a user would hand it to `openshell-auto`, written under `dest`.

    Molecule's generated inventory templates its own bookkeeping (`molecule_yml: lookup('file', ...)`,
    `lookup('env', 'MOLECULE_...')`) and scenarios may read fixture sums with lookups. The CLI
    refuses lookups in inventory values before anything runs (they would run on the controller),
    so the copy leaves those variables out; the CLI runs of the tests need none of them. group_vars/
    and host_vars/ beside the inventory are copied the same way."""
    source = Path(os.environ["MOLECULE_INVENTORY_FILE"])
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / source.name
    groups = {name: _clean_inventory(group) for name, group in _inventory().items()}
    target.write_text(yaml.safe_dump(groups, sort_keys=False))
    for sub in ("group_vars", "host_vars"):
        for path in sorted((source.parent / sub).glob("*")) if (source.parent / sub).is_dir() else []:
            (dest / sub).mkdir(exist_ok=True)
            (dest / sub / path.name).write_text(
                yaml.safe_dump(_without_lookups(yaml.safe_load(path.read_text()) or {}), sort_keys=False))
    return target
