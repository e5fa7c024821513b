"""testinfra host list for Molecule verifiers: every instance of the scenario over podman://.

Usage in a scenario's tests/test_*.py:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
    from molecule_hosts import podman_hosts
    testinfra_hosts = podman_hosts()              # all instances
    testinfra_hosts = podman_hosts("openshell_agents")   # members of one inventory group
"""

from __future__ import annotations

import os
from pathlib import Path

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
