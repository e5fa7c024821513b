"""The inventory loader: an openshell-auto YAML inventory, its group_vars/ and host_vars/ files and
host ranges, read with the line of every key, into the model of module inventory_model.

Layout checks (each failure is one line naming the file, host or group, field and fix; exit 2):
missing file, YAML syntax (with line), groups holding only `hosts`, `children`, `vars`. Accepts
Molecule's generated inventories: top-level groups beside `all`, `all.hosts` listing every host
again, `ungrouped`, group_vars/ and host_vars/ beside the inventory file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import Opaque
from openshell_auto.errors import InputError
from openshell_auto.input_files import MAX_RANGE_HOSTS, BoundedPythonLoader, BoundedSafeLoader, parse_yaml, range_size, read_text
from openshell_auto.inventory_model import GroupDef, Inventory, VarBlock

GROUP_KEYS = ("hosts", "children", "vars")
_RANGE = re.compile(r"\[[^\]]*:[^\]]*\]")


class _LineDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line of each key (1-based)."""

    lines: dict[str, int]
    line: int


class LineLoader(BoundedSafeLoader):
    """BoundedSafeLoader whose mappings remember the line of each key."""


class _PythonLineLoader(BoundedPythonLoader):
    """LineLoader on PyYAML's Python parser (for the messages of a text LineLoader refuses)."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> _LineDict:
    first: dict[str, int] = {}
    for key_node, _ in node.value:  # duplicates among the mapping's own keys (`<<` merges may override)
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key `{key_node.value[:60]}` (first at line {first[key_node.value]}); "
                    "keep one of them", key_node.start_mark)
            first[key_node.value] = line
    loader.flatten_mapping(node)
    result = _LineDict()
    result.lines = {}
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_opaque(loader: LineLoader, node: yaml.Node) -> Opaque:
    value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else ""
    return Opaque(str(value))


# what LineLoader.add_constructor does for each tag (its type hints know PyYAML's own loaders only)
LineLoader.yaml_constructors = _PythonLineLoader.yaml_constructors = {
    **BoundedSafeLoader.yaml_constructors, yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG: _construct_mapping,
    "!vault": _construct_opaque, "!unsafe": _construct_opaque, "!vault-encrypted": _construct_opaque}
LineLoader.python_twin = _PythonLineLoader


def load_yaml(path: Path, what: str = "inventory") -> Any:
    """Parse a YAML file keeping key line numbers; errors (input_files.parse_yaml) name file:line:column, exit 2."""
    hint = "pass an existing file with -i" if what == "inventory" else \
        "pass an existing file with -e @FILE" if what == "extra vars" else "create it or remove the reference"
    return parse_yaml(read_text(path, what, hint), path, f"{what} file", LineLoader)


def _line(mapping: object, key: str) -> int | None:
    if isinstance(mapping, _LineDict):
        return mapping.lines.get(key)
    return None


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[str] = []
        self.groups: dict[str, GroupDef] = {}
        self.host_order: list[str] = []
        self.host_blocks: dict[str, list[VarBlock]] = {}
        self.host_lines: dict[str, int] = {}
        self.members: dict[str, set[str]] = {}

    def err(self, line: int | None, text: str) -> None:
        where = f"{self.path}:{line}" if line else str(self.path)
        self.errors.append(f"{where}: {text}")

    def group(self, name: str) -> GroupDef:
        if name not in self.groups:
            self.groups[name] = GroupDef(name)
        return self.groups[name]

    def parse(self, data: Any) -> None:
        if data is None:
            self.err(None, "inventory is empty; add `all:` with `children:` openshell_servers/openshell_agents "
                     "(see inventories/example/hosts.yml)")
            return
        if not isinstance(data, dict):
            self.err(getattr(data, "line", None),
                     f"top level is a {type(data).__name__}, not a mapping of groups; start the file with `all:` "
                     "(YAML inventory, see inventories/example/hosts.yml)")
            return
        if isinstance(data.get("plugin"), str):
            self.err(_line(data, "plugin"), f"field plugin: is an inventory plugin configuration ({data['plugin'][:60]}); "
                     "openshell-auto runs no inventory script or plugin (it would run code on this machine); write its "
                     f"result to a file with `ansible-inventory -i {self.path} --list -y > hosts.yml` and pass "
                     "-i hosts.yml")
            return
        self.group("all")
        for name, body in data.items():
            self.parse_group(name, body, _line(data, name), top=True)

    def parse_group(self, name: str, body: Any, line: int | None, top: bool = False) -> None:
        group = self.group(name)
        group.line = group.line or line
        if top and name != "all" and name not in self.groups["all"].children:
            self.groups["all"].children.append(name)
        if body is None:
            return
        if not isinstance(body, dict):
            self.err(line, f"group {name}: must be a mapping with keys hosts/children/vars, got {type(body).__name__}; "
                     "indent its hosts under `hosts:`")
            return
        for key in body:
            if key not in GROUP_KEYS:
                hint = difflib.get_close_matches(key, GROUP_KEYS, n=1)
                fix = f"did you mean `{hint[0]}`?" if hint else "put hosts under `hosts:` and groups under `children:`"
                self.err(_line(body, key), f"group {name}: unknown key `{key}` (a group may only hold "
                         f"hosts, children, vars); {fix}")
        hosts = body.get("hosts")
        if hosts is not None:
            if not isinstance(hosts, dict):
                self.err(_line(body, "hosts"), f"group {name}: field hosts must be a mapping of host names "
                         "(`hosts:` then `  server1:` on the next line), not a list or string")
            else:
                for host_pattern, host_body in hosts.items():
                    self.parse_host(name, host_pattern, host_body, _line(hosts, host_pattern))
        children = body.get("children")
        if children is not None:
            if not isinstance(children, dict):
                self.err(_line(body, "children"), f"group {name}: field children must be a mapping of group names, "
                         "not a list or string")
            else:
                for child, child_body in children.items():
                    if child == "all":
                        self.err(_line(children, child), f"group {name}: `all` cannot be a child group; remove it")
                        continue
                    if child not in group.children:
                        group.children.append(child)
                    self.parse_group(child, child_body, _line(children, child))
        group_vars = body.get("vars")
        if group_vars is not None:
            if not isinstance(group_vars, dict):
                self.err(_line(body, "vars"), f"group {name}: field vars must be a mapping of variable: value")
            else:
                group.var_blocks.append(VarBlock("group", name, self.path, dict(group_vars),
                                                 dict(getattr(group_vars, "lines", {}))))

    def parse_host(self, group: str, pattern: str, body: Any, line: int | None) -> None:
        if range_size(pattern) > MAX_RANGE_HOSTS:
            self.err(line, f"group {group}: host pattern `{pattern[:60]}` expands to more than {MAX_RANGE_HOSTS} "
                     "hosts; use a smaller range")
            return
        names = _expand(pattern)
        if names is None:
            self.err(line, f"group {group}: host pattern `{pattern}` is not a valid range; use e.g. node[01:10]")
            return
        if body is not None and not isinstance(body, dict):
            self.err(line, f"host {pattern}: host variables must be a mapping (`{pattern}:` then "
                     f"`  ansible_host: ...`), got {type(body).__name__}")
            body = None
        for host in names:
            if host not in self.host_blocks:
                self.host_order.append(host)
                self.host_blocks[host] = []
                self.host_lines[host] = line or 0
            members = self.members.get(group)
            if members is None:
                members = self.members[group] = set(self.groups[group].hosts)
            if host not in members:  # a set: linear in the inventory's size
                members.add(host)
                self.groups[group].hosts.append(host)
            if body:
                self.host_blocks[host].append(VarBlock("host", host, self.path, dict(body),
                                                       dict(getattr(body, "lines", {}))))


def _expand(pattern: str) -> list[str] | None:
    """Expand Ansible host ranges (node[01:03]) with Ansible's own helper when present."""
    if not _RANGE.search(pattern):
        return [pattern]
    from ansible.errors import AnsibleError
    from ansible.plugins.inventory import expand_hostname_range

    try:
        names: list[str] = []
        pending = [pattern]
        while pending:
            current = pending.pop(0)
            if _RANGE.search(current):
                pending[:0] = expand_hostname_range(current)
            else:
                names.append(current)
        return names
    except (AnsibleError, ValueError, IndexError):
        return None


def vars_files(base: Path, kind: str, name: str) -> list[Path]:
    """group_vars/<name>[.yml|.yaml|.json] or group_vars/<name>/** beside the inventory."""
    root = base / kind
    found: list[Path] = []
    for candidate in (root / name, root / f"{name}.yml", root / f"{name}.yaml", root / f"{name}.json"):
        if candidate.is_file():
            found.append(candidate)
        elif candidate.is_dir():
            found.extend(sorted(p for p in candidate.rglob("*")
                                if p.is_file() and p.suffix in ("", ".yml", ".yaml", ".json")))
    return found


def load_vars_file(path: Path, kind: str, owner: str, errors: list[str]) -> VarBlock | None:
    try:
        data = load_yaml(path, "vars")
    except InputError as exc:
        errors.extend(exc.messages)
        return None
    if data is None:
        return None
    if isinstance(data, str) and data.startswith("$ANSIBLE_VAULT;"):
        return None  # a vault-encrypted file: Ansible decrypts it; like a !vault value, not checked here
    if not isinstance(data, dict):
        errors.append(f"{path}: {kind} {owner}: file must be a mapping of variable: value")
        return None
    return VarBlock(kind, owner, path, dict(data), dict(getattr(data, "lines", {})))


def parse_inventory(path: Path, extra_vars: Mapping[str, Any] | None = None) -> Inventory:
    """Parse the layout (no role checks). Raises InputError listing every layout problem."""
    path = Path(path)
    data = load_yaml(path)
    parser = _Parser(path)
    parser.parse(data)
    errors = parser.errors
    base = path.parent
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile

    names = hostile.check_names(
        [(f"{path}:{parser.host_lines[h]}" if parser.host_lines.get(h) else str(path), h) for h in parser.host_order],
        [(f"{path}:{g.line}" if g.line else str(path), n) for n, g in parser.groups.items()])
    if names:  # never look up group_vars/<name> or host_vars/<name> for a name that is a path
        raise InputError(errors + names)
    for name, group in parser.groups.items():
        for file in vars_files(base, "group_vars", name):
            block = load_vars_file(file, "group", name, errors)
            if block:
                group.var_blocks.insert(0, block)  # inline vars in the inventory win over group_vars/
    for host in parser.host_order:
        for file in vars_files(base, "host_vars", host):
            block = load_vars_file(file, "host", host, errors)
            if block:
                parser.host_blocks[host].insert(0, block)
    if errors:
        raise InputError(errors)
    return Inventory(path=path, groups=parser.groups, host_order=parser.host_order,
                     host_blocks=parser.host_blocks, host_lines=parser.host_lines,
                     extra_vars=extra_vars if isinstance(extra_vars, dict) else dict(extra_vars or {}))
