"""Load and validate an openshell-auto YAML inventory before anything runs, and classify its hosts
as role `openshell` does (roles/openshell/tasks/classify.yml). The jobs live in their own modules:
inventory_loader (files and layout), inventory_model (variable precedence), inventory_checks
(argument checks); this module classifies.

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
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.first_server import first_server as first_server_of
from openshell_auto.errors import InputError
from openshell_auto.inventory_checks import as_bool, check_variables, is_template
from openshell_auto.inventory_loader import parse_inventory
from openshell_auto.inventory_model import Inventory, variable_blocks
from openshell_auto.specs import Specs, load_specs


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
    first_server: str | None = None  # the host role openshell puts into openshell_role_first_server

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
        marked = as_bool(per_host_vars[host].get("openshell_gpu", False))
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
    first_server: str | None = None
    if servers:  # without a server the layout refusal below says it all
        agent_list = [h for h in agents if h not in server_set]
        first_server_value = _FirstServerValues(inventory, per_host_vars, specs)
        for host in inventory.host_order:
            try:
                value = first_server_value(host)
            except InputError as exc:
                errors.extend(exc.messages)
                break
            chosen, first_problem = first_server_of(value, servers, agent_list)
            if first_problem:
                raw = per_host_vars[host].get("openshell_first_server")
                via = f" (`{hostile.shown(raw)}` as templated for host {host})" if is_template(raw) else ""
                errors.append(f"{path}: host {host}: field openshell_first_server: {first_problem}{via}")
                break  # one line, not one per host
            if chosen == host and first_server is None:
                first_server = host
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
                      hosts=hosts, vars=per_host_vars, first_server=first_server)


class _FirstServerValues:
    """openshell_first_server as a play sees it on each host: the inventory's value ('' when unset:
    the role default names the first host of the server group), a Jinja value templated by
    Ansible's Templar over the inventory's groups and hostvars and the role defaults
    (hostile.check_inventory has refused lookups and other unsafe templates before)."""

    def __init__(self, inventory: Inventory, per_host_vars: Mapping[str, Mapping[str, Any]], specs: Specs) -> None:
        self.inventory, self.per_host_vars, self.specs = inventory, per_host_vars, specs
        self._shared: dict[str, Any] | None = None
        self._done: dict[tuple[Any, ...], Any] = {}

    def _variables(self, host: str) -> dict[str, Any]:
        if self._shared is None:  # once per inventory, not per host
            inventory = self.inventory
            groups = {name: inventory.group_hosts(name) for name in inventory.groups}
            groups["all"] = list(inventory.host_order)
            self._shared = {"groups": groups, "hostvars": _HostVars(self.per_host_vars, _trusted(self.specs.defaults))}
        return {**self._shared["hostvars"][host], **self._shared,
                "group_names": [g for g in self.inventory.host_groups(host) if g != "all"]}

    def _key(self, host: str, value: str) -> tuple[Any, ...] | None:
        """What the result depends on, when that is plain values (then hosts share one result)."""
        names = _template_names(value)
        if names is None or {"inventory_hostname", "group_names", "hostvars"} & set(names):
            return None
        seen = [self.per_host_vars[host].get(name, self.specs.defaults.get(name)) for name in names]
        if any(is_template(v) for v in seen):
            return None  # a value that is a template itself may name the host
        return (value, repr(seen))

    def __call__(self, host: str) -> Any:
        value = self.per_host_vars[host].get("openshell_first_server", "")
        if not is_template(value):
            return value
        key = self._key(host, str(value))
        if key is not None and key in self._done:
            return self._done[key]
        from ansible.errors import AnsibleError
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar

        try:
            result = Templar(loader=DataLoader(), variables=self._variables(host)).template(_trusted(value))
            if key is not None:
                self._done[key] = result
            return result
        except AnsibleError as exc:
            message = " ".join(str(getattr(exc, "message", exc)).split())[:200]
            raise InputError(f"{self.inventory.path}: host {host}: field openshell_first_server: "
                             f"`{_shown(value)}` cannot be templated ({message}); name a host of the server "
                             "group") from exc


class _HostVars(Mapping[str, Any]):
    """`hostvars` for the Templar: a host's variables (role defaults below the inventory's), built
    and marked as templates when a template first reads them."""

    def __init__(self, per_host_vars: Mapping[str, Mapping[str, Any]], defaults: Mapping[str, Any]) -> None:
        self._vars, self._defaults, self._built = per_host_vars, defaults, {}  # type: ignore[var-annotated]

    def __getitem__(self, host: str) -> dict[str, Any]:
        if host not in self._built:
            own = self._vars[host]  # KeyError: no such host, as Ansible's hostvars
            self._built[host] = {**self._defaults, **_trusted(dict(own)), "inventory_hostname": host}
        return self._built[host]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)


@functools.lru_cache(maxsize=64)
def _template_names(value: str) -> tuple[str, ...] | None:
    """The variables a template reads, or None when Jinja cannot parse it (the Templar says why)."""
    from jinja2 import Environment, meta

    try:
        return tuple(sorted(meta.find_undeclared_variables(Environment().parse(value))))
    except Exception:  # noqa: BLE001 - any parse error: no sharing, the Templar reports it
        return None


def _trusted(item: Any) -> Any:
    """Strings marked as templates, as Ansible marks inventory values it loads."""
    from ansible.template import trust_as_template

    if isinstance(item, str):
        return trust_as_template(str(item))
    if isinstance(item, Mapping):
        return {str(k): _trusted(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [_trusted(v) for v in item]
    return item


def _shown(value: Any) -> str:
    from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import shown

    return shown(value)


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
