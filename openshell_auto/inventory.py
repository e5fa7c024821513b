"""Load and validate an openshell-auto YAML inventory before anything runs.

Checks (each failure is one line naming the file, host or group, field and fix; exit 2):
missing file, YAML syntax (with line), layout (groups may only hold `hosts`, `children`, `vars`),
role groups (names from the variables openshell_server_group / openshell_agent_group /
openshell_gpu_group of role `openshell`, overridable in `all.vars` or extra vars), every host in
exactly one of server/agent group, GPU hosts (openshell_gpu: true or GPU group) being servers or
agents, at least one server, variable types/values against every role's argument_specs (via
Ansible's ArgumentSpecValidator; Jinja templates are skipped) and misspelt role variables.

Accepts Molecule's generated inventories: top-level groups beside `all`, `all.hosts` listing
every host again, `ungrouped`, group_vars/ and host_vars/ beside the inventory file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import device_plugin, k3s_network, sandbox
from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import Opaque, checksum_problem
from ansible_collections.openshell_auto.cluster.plugins.module_utils.k3s_release import k3s_version_problem
from openshell_auto.errors import InputError
from ansible_collections.openshell_auto.cluster.plugins.module_utils.airgap import sha256_problem
from openshell_auto.input_files import MAX_RANGE_HOSTS, BoundedComposer, range_size, read_text
from openshell_auto.specs import Specs, load_specs

GROUP_KEYS = ("hosts", "children", "vars")
_RANGE = re.compile(r"\[[^\]]*:[^\]]*\]")
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


# --------------------------------------------------------------------------- YAML with lines
class _LineDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line of each key (1-based)."""

    lines: dict[str, int]
    line: int


class LineLoader(BoundedComposer, yaml.SafeLoader):  # type: ignore[misc]
    pass


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


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
LineLoader.add_constructor("!vault", _construct_opaque)
LineLoader.add_constructor("!unsafe", _construct_opaque)
LineLoader.add_constructor("!vault-encrypted", _construct_opaque)


def load_yaml(path: Path, what: str = "inventory") -> Any:
    """Parse YAML keeping key line numbers; errors name file:line and exit 2."""
    hint = "pass an existing file with -i" if what == "inventory" else \
        "pass an existing file with -e @FILE" if what == "extra vars" else "create it or remove the reference"
    text = read_text(path, what, hint)
    try:
        return yaml.load(text, Loader=LineLoader)  # noqa: S506 - SafeLoader subclass
    except RecursionError as exc:
        raise InputError(f"{path}: {what} is nested too deeply to read; flatten the structure") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(" ".join(str(p).split()) for p in (exc.context, exc.problem) if p)
        raise InputError(f"{path}{line}: YAML syntax error: {problem}; fix the YAML at that line") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: YAML error: {exc}; fix the YAML") from exc


def _line(mapping: object, key: str) -> int | None:
    if isinstance(mapping, _LineDict):
        return mapping.lines.get(key)
    return None


# --------------------------------------------------------------------------- model
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


@dataclass
class Classified:
    """Hosts sorted into cluster roles (what role `openshell` computes with group_by)."""

    inventory: Inventory
    server_group: str
    agent_group: str
    gpu_group: str
    servers: list[str]
    agents: list[str]
    gpu_hosts: list[str]
    hosts: list[str]
    vars: dict[str, dict[str, Any]]

    @property
    def first_server(self) -> str | None:
        return self.servers[0] if self.servers else None

    def roles_of(self, host: str) -> list[str]:
        roles = ["server" if host in self.servers else "agent"]
        if host in self.gpu_hosts:
            roles.append("gpu")
        if host == self.first_server:
            roles.append("first")
        return roles

    def select(self, selector: str) -> list[str]:
        """Hosts for a RENDERED_FILES selector: all, gpu, server, agent, first_server."""
        if selector == "all":
            return list(self.hosts)
        if selector == "gpu":
            return [h for h in self.hosts if h in self.gpu_hosts]
        if selector == "server":
            return list(self.servers)
        if selector == "agent":
            return list(self.agents)
        if selector == "first_server":
            return [self.first_server] if self.first_server else []
        raise ValueError(f"unknown host selector {selector!r}: use all, gpu, server, agent or first_server")


# --------------------------------------------------------------------------- parsing
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


def _vars_files(base: Path, kind: str, name: str) -> list[Path]:
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


def _load_vars_file(path: Path, kind: str, owner: str, errors: list[str]) -> VarBlock | None:
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
        for file in _vars_files(base, "group_vars", name):
            block = _load_vars_file(file, "group", name, errors)
            if block:
                group.var_blocks.insert(0, block)  # inline vars in the inventory win over group_vars/
    for host in parser.host_order:
        for file in _vars_files(base, "host_vars", host):
            block = _load_vars_file(file, "host", host, errors)
            if block:
                parser.host_blocks[host].insert(0, block)
    if errors:
        raise InputError(errors)
    return Inventory(path=path, groups=parser.groups, host_order=parser.host_order,
                     host_blocks=parser.host_blocks, host_lines=parser.host_lines,
                     extra_vars=extra_vars if isinstance(extra_vars, dict) else dict(extra_vars or {}))


# --------------------------------------------------------------------------- variable checks
def is_template(value: Any) -> bool:
    """True when the value (or anything inside it) is a Jinja template or an opaque value."""
    if isinstance(value, Opaque):
        return True
    if isinstance(value, str):
        return any(marker in value for marker in _TEMPLATE_MARKERS)
    if isinstance(value, dict):
        return any(is_template(k) or is_template(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_template(v) for v in value)
    return False


_VALIDATORS: dict[int, Any] = {}


def _validator_for(name: str, spec: dict[str, Any]) -> Any:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    key = id(spec)
    if key not in _VALIDATORS:
        option = {k: v for k, v in spec.items() if k not in ("required", "default")}
        _VALIDATORS[key] = ArgumentSpecValidator({name: option})
    return _VALIDATORS[key]


def owner_text(block: VarBlock) -> str:
    return "extra vars" if block.owner_kind == "extra vars" else f"{block.owner_kind} {block.owner}"


def check_variables(blocks: Iterable[VarBlock], specs: Specs) -> list[str]:
    """Type/value errors against argument_specs, and misspelt role-prefixed variables."""
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile

    errors: list[str] = []
    options = specs.options
    known = specs.known_names()
    for block in blocks:
        for name, value in block.values.items():
            where = block.where(name)
            spec = options.get(name)
            if spec is not None:
                if is_template(value) or value is None:
                    continue
                strict = hostile.strict_type_problem(name, spec, value)
                if strict:
                    errors.append(f"{where}: {owner_text(block)}: field {name}: {strict}")
                    continue
                result = _validator_for(name, spec).validate({name: value})
                for message in result.error_messages:
                    fix = _type_fix(spec)
                    errors.append(f"{where}: {owner_text(block)}: field {name}: {message}; {fix}")
                if not result.error_messages:
                    errors.extend(f"{where}: {owner_text(block)}: field {name}: {problem}"
                                  for problem in _format_problems(name, value))
                continue
            if name in known or name.startswith("__"):
                continue
            role = specs.owner(name)
            suggestion = specs.suggest(name, cutoff=0.75 if role else 0.9)
            if role is None and suggestion is None:
                continue  # a user variable unrelated to any role
            hint = f"did you mean `{suggestion}`?" if suggestion else \
                f"see roles/{role.name}/meta/argument_specs.yml for the variables of role {role.name}" if role else ""
            errors.append(f"{where}: {owner_text(block)}: field {name}: unknown variable"
                          f"{f' of role {role.name}' if role else ''}; {hint}")
    return errors


def _image_repository_problem(value: str) -> str | None:
    """An image repository without tag or digest (the chart adds its own tag); empty: the chart's."""
    if not value:
        return None
    problem = sandbox.image_problem(value)
    if problem is None and ("@" in value or ":" in value.rsplit("/", 1)[-1]):
        problem = f"`{value}` carries a tag or digest; give the repository only (the chart adds its version's tag)"
    return problem


# Every image the roles pull, by the variable that names it (each has its one default in its role's
# defaults/main.yml): checked as image references before anything runs.
IMAGE_REFERENCES = {
    "openshell_verify_smoke_image": sandbox.image_problem,
    "nvidia_device_plugin_image_repository": _image_repository_problem,
}


# Value formats argument_specs cannot express; the roles check the same before they use a value
# (the sha256 format: plugins/module_utils/airgap.py, the roles' air-gap check on the controller).
# The sums the roles compare with a sha256 of a controller-side file themselves.
SHA256_CHECKSUMS = ("k3s_images_checksum", "nvidia_device_plugin_chart_checksum",
                    "nvidia_device_plugin_image_checksum")
# Passed to ansible.builtin.get_url `checksum:` as is: "<algorithm>:<hex digest>" or "<algorithm>:<url>".
GET_URL_CHECKSUMS = ("nvidia_container_toolkit_gpg_key_checksum",)


def _format_problems(name: str, value: Any) -> list[str]:
    if name == "nvidia_device_plugin_time_slicing_replicas":
        problem = device_plugin.replicas_problem(value)
        return [problem] if problem else []
    if name == "nvidia_device_plugin_mig_strategy":
        problem = device_plugin.mig_strategy_problem(value)
        return [problem] if problem else []
    if name in ("k3s_http_proxy", "k3s_https_proxy"):
        problem = k3s_network.proxy_url_problem(value)
        return [problem] if problem else []
    if name == "k3s_no_proxy":
        problem = k3s_network.no_proxy_problem(value)
        return [problem] if problem else []
    if name == "k3s_registries":
        return k3s_network.registries_problems(value)
    if name in IMAGE_REFERENCES and isinstance(value, str) and (problem := IMAGE_REFERENCES[name](value)):
        return [problem]
    if not isinstance(value, str):
        return []
    if name in SHA256_CHECKSUMS and value and sha256_problem(value):
        return [f"'{value}' is not a sha256; set it to \"sha256:<64 hex digits>\" or the 64 hex digits alone "
                "(`sha256sum FILE` of a trusted copy), or leave it empty"]
    if name in GET_URL_CHECKSUMS and value and (problem := checksum_problem(value)):
        return [f"'{value[:80]}' is not a get_url checksum ({problem}); use \"<algorithm>:<hex digest>\" e.g. "
                "sha256:<64 hex digits> or sha512:<128 hex digits>, as ansible.builtin.get_url takes, or leave it "
                "empty"]
    if name == "k3s_version" and (problem := k3s_version_problem(value)):
        return [problem]
    return []


def _type_fix(spec: Mapping[str, Any]) -> str:
    if spec.get("choices"):
        return "use one of: " + ", ".join(str(c) for c in spec["choices"])
    kind = spec.get("type", "str")
    examples = {"bool": "true or false", "int": "a whole number", "float": "a number", "list": "a YAML list",
                "dict": "a YAML mapping", "path": "a file system path", "str": "a string"}
    return f"set it to {examples.get(str(kind), kind)}"


# --------------------------------------------------------------------------- role checks
def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if is_template(value):
        return None
    from ansible.module_utils.parsing.convert_bool import boolean

    try:
        return bool(boolean(value, strict=True))
    except TypeError:
        return None


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


def _setting(name: str, inventory: Inventory, specs: Specs) -> str:
    """A group-name variable: extra vars > all.vars of the inventory > role default."""
    value: Any = specs.defaults.get(name)
    for block in inventory.groups["all"].var_blocks:
        if name in block.values:
            value = block.values[name]
    if name in inventory.extra_vars:
        value = inventory.extra_vars[name]
    return str(value)


def classify(inventory: Inventory, specs: Specs | None = None) -> Classified:
    """Validate roles of hosts and return them classified. Raises InputError (exit 2)."""
    specs = specs or load_specs()
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile

    blocks = variable_blocks(inventory)
    unsafe = hostile.check_inventory(inventory, blocks)
    if unsafe:  # nothing below templates a value, but refuse before any other check reads one
        raise InputError(unsafe)
    errors = check_variables(blocks, specs)
    server_group = _setting("openshell_server_group", inventory, specs)
    agent_group = _setting("openshell_agent_group", inventory, specs)
    gpu_group = _setting("openshell_gpu_group", inventory, specs)
    path = inventory.path
    servers = inventory.group_hosts(server_group)
    agents = inventory.group_hosts(agent_group)
    gpu_members = set(inventory.group_hosts(gpu_group))
    server_set, agent_set = set(servers), set(agents)
    per_host_vars = {host: inventory.host_vars(host) for host in inventory.host_order}
    gpu_hosts: list[str] = []
    for host in inventory.host_order:
        line = inventory.host_lines.get(host)
        where = f"{path}:{line}" if line else str(path)
        marked = _as_bool(per_host_vars[host].get("openshell_gpu", False))
        is_gpu = bool(marked) or host in gpu_members
        in_server, in_agent = host in server_set, host in agent_set
        if is_gpu:
            gpu_hosts.append(host)
        if in_server and in_agent:
            errors.append(f"{where}: host {host}: field groups: it is in both {server_group} and {agent_group}; "
                          "keep it in exactly one of them")
        elif not in_server and not in_agent:
            if is_gpu:
                errors.append(f"{where}: host {host}: field groups: GPU host (openshell_gpu or group {gpu_group}) "
                              f"is neither a server nor an agent; add it to {agent_group} or {server_group}")
            else:
                hint = _group_hint(inventory.host_groups(host), server_group, agent_group, specs)
                errors.append(f"{where}: host {host}: field groups: host is in no role group{hint}; "
                              f"add it to {server_group} or {agent_group}")
    for host in inventory.host_order:
        first_problem = hostile.first_server_problem(per_host_vars[host].get("openshell_first_server"), servers,
                                                     agents)
        if first_problem:
            errors.append(f"{path}: host {host}: field openshell_first_server: {first_problem}")
            break  # one line, not one per host
    role_groups = {server_group, agent_group, gpu_group}
    if not servers:
        gpu_agents = [h for h in gpu_hosts if h in agents]
        near = difflib.get_close_matches(server_group, [g for g in inventory.groups if g not in role_groups], n=1)
        hint = f" (found group `{near[0]}`: a typo?)" if near else ""
        if gpu_agents:
            errors.append(f"{path}: group {server_group}: field hosts: GPU agent(s) {', '.join(gpu_agents)} have no "
                          f"server to join{hint}; add a host to {server_group}")
        else:
            errors.append(f"{path}: group {server_group}: field hosts: no server in the inventory{hint}; "
                          f"add at least one host to {server_group} (the first one initialises the cluster)")
    if errors:
        raise InputError(errors)
    hosts = list(inventory.host_order)
    return Classified(inventory=inventory, server_group=server_group, agent_group=agent_group, gpu_group=gpu_group,
                      servers=servers, agents=[h for h in agents if h not in server_set], gpu_hosts=gpu_hosts,
                      hosts=hosts, vars=per_host_vars)


def _group_hint(groups: list[str], server_group: str, agent_group: str, specs: Specs) -> str:
    """Why a host's group is no role group: renamed role groups, or a typo."""
    defaults = {specs.defaults.get("openshell_server_group"): ("openshell_server_group", server_group),
                specs.defaults.get("openshell_agent_group"): ("openshell_agent_group", agent_group)}
    for group in groups:
        if group in defaults and defaults[group][1] != group:
            variable, current = defaults[group]
            return f" (its group `{group}` is no role group because {variable} is `{current}`)"
    for group in groups:
        if group in ("all", "ungrouped"):
            continue
        near = difflib.get_close_matches(group, [server_group, agent_group], n=1, cutoff=0.8)
        if near:
            return f" (group `{group}` looks like a typo of `{near[0]}`)"
    return ""


def load_inventory(path: Path | str, extra_vars: Mapping[str, Any] | None = None,
                   specs: Specs | None = None) -> Classified:
    """Parse and fully validate an inventory; return its hosts classified. Raises InputError."""
    return classify(parse_inventory(Path(path), extra_vars), specs)
