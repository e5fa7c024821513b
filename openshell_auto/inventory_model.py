"""The parsed inventory: groups, hosts and every variable block with its origin, and Ansible's
variable precedence over them (group `all` < parent groups < child groups < host < extra vars)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class VarBlock:
    """Variables defined in one place (a group's vars, a host entry, a vars file, extra vars)."""

    owner_kind: str  # "group", "host" or "extra vars"
    owner: str
    file: Path | None
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str | None = None) -> str:
        if self.file is None:
            return "-e"
        line = self.lines.get(key) if key else None
        return f"{self.file}:{line}" if line else str(self.file)


@dataclass
class GroupDef:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    var_blocks: list[VarBlock] = field(default_factory=list)
    line: int | None = None


@dataclass
class Inventory:
    """A parsed inventory: groups, hosts and every variable block with its origin."""

    path: Path
    groups: dict[str, GroupDef]
    host_order: list[str]
    host_blocks: dict[str, list[VarBlock]]
    host_lines: dict[str, int]
    extra_vars: dict[str, Any]
    _members: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def group_hosts(self, name: str) -> list[str]:
        """Hosts of a group and its descendants, in Ansible's order (own hosts first)."""
        if name in self._members:
            return self._members[name]
        seen: dict[str, None] = {}
        visited: set[str] = set()

        def walk(group: str) -> None:
            if group in visited or group not in self.groups:
                return
            visited.add(group)
            for host in self.groups[group].hosts:
                seen.setdefault(host, None)
            for child in self.groups[group].children:
                walk(child)

        walk(name)
        self._members[name] = list(seen)
        return self._members[name]

    def host_groups(self, host: str) -> list[str]:
        """Every group the host belongs to (directly or through a child group), 'all' included."""
        if not hasattr(self, "_groups_of"):  # one pass over all groups, not one per host
            groups_of: dict[str, list[str]] = {}
            for name in self.groups:
                for member in self.group_hosts(name):
                    groups_of.setdefault(member, []).append(name)
            self._groups_of = groups_of
        return list(self._groups_of.get(host, []))

    def _depths(self) -> dict[str, int]:
        depth: dict[str, int] = {"all": 0}

        def visit(group: str, d: int, stack: tuple[str, ...]) -> None:
            if group in stack:
                return
            if depth.get(group, -1) < d:
                depth[group] = d
            for child in self.groups.get(group, GroupDef(group)).children:
                visit(child, d + 1, (*stack, group))

        for name in self.groups:
            visit(name, 1 if name != "all" else 0, ())
        return depth

    def host_vars(self, host: str) -> dict[str, Any]:
        """Inventory variables of a host as Ansible merges them, then extra vars on top.

        Order: group `all` < parent groups < child groups (by depth, ansible_group_priority,
        name) < host variables < extra vars. Role defaults are not included.
        """
        if not hasattr(self, "_depth_cache"):
            self._depth_cache = self._depths()
        depths = self._depth_cache
        groups = [g for g in self.host_groups(host)]
        merged: dict[str, Any] = {}

        def priority(name: str) -> int:
            for block in self.groups[name].var_blocks:
                value = block.values.get("ansible_group_priority")
                if isinstance(value, int):
                    return value
            return 1

        for name in sorted(groups, key=lambda g: (depths.get(g, 1), priority(g), g)):
            for block in self.groups[name].var_blocks:
                merged.update(block.values)
        for block in self.host_blocks.get(host, []):
            merged.update(block.values)
        merged.update(self.extra_vars)
        return merged

    def all_blocks(self) -> Iterable[VarBlock]:
        for group in self.groups.values():
            yield from group.var_blocks
        for blocks in self.host_blocks.values():
            yield from blocks


def variable_blocks(inventory: Inventory) -> list[VarBlock]:
    """Every place the inventory's variables come from: groups, hosts, vars files, then -e."""
    return [*inventory.all_blocks(), *_extra_blocks(inventory.extra_vars)]


def _extra_blocks(extra_vars: Mapping[str, Any]) -> list[VarBlock]:
    """Extra vars as blocks: one per `-e @file` (messages name its file and line), one for the
    inline -e values."""
    origins: dict[str, tuple[Path, int | None]] = getattr(extra_vars, "origins", {})
    by_file: dict[Path, VarBlock] = {}
    inline = VarBlock("extra vars", "-e", None, {})
    for name, value in extra_vars.items():
        if name in origins:
            file, line = origins[name]
            block = by_file.setdefault(file, VarBlock("extra vars", f"-e @{file}", file, {}))
            block.values[name] = value
            if line:
                block.lines[name] = line
        else:
            inline.values[name] = value
    return [*by_file.values(), inline]
