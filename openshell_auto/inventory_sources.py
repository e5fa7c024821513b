"""`-i` sources beyond one YAML file: several `-i`, INI and TOML files, directories (with their
group_vars/ and host_vars/) and `host1,host2,` host lists, validated like a YAML inventory.

The rule for what may be parsed (one place, `SAFE_INVENTORY_PLUGINS`): the inventory plugins that
only read text, `host_list`, `yaml`, `ini` and `toml`. Inventory scripts and inventory plugin
configurations (`plugin: ...`, e.g. `constructed`, cloud plugins) run code on the controller or
template values there, which an inventory value must never make it do; they are refused with the
way out (`ansible-inventory -i SOURCE --list -y > hosts.yml`, then `-i hosts.yml`). The playbook
runs with the same plugins enabled (ANSIBLE_INVENTORY_ENABLED), so what was validated is what
Ansible reads, and an executable inventory file is never run as a script.

YAML files (.yml, .yaml, .json, or no extension holding a YAML mapping) keep the friendly
file:line checks of inventory_loader.parse_inventory; the others are parsed with Ansible's own plugin and
checked with the same field rules (hostile values, names, types) without line numbers.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from openshell_auto.errors import InputError
from openshell_auto.input_files import MAX_RANGE_HOSTS, load_bounded, range_size, read_text
from openshell_auto.inventory import Classified, classify
from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import Opaque
from openshell_auto.inventory_loader import load_vars_file, parse_inventory, vars_files
from openshell_auto.inventory_model import GroupDef, Inventory, VarBlock

# Inventory plugins that read text and run nothing, in Ansible's order of trying them.
SAFE_INVENTORY_PLUGINS = ("host_list", "yaml", "ini", "toml")
YAML_SUFFIXES = (".yml", ".yaml", ".json")
MAX_SOURCES = 64  # files read from -i (directories included)
_WAY_OUT = ("openshell-auto runs no inventory script or plugin (it would run code on this machine); write its "
            "result to a file with `ansible-inventory -i {src} --list -y > hosts.yml` and pass -i hosts.yml")


def inventory_enabled_env() -> str:
    """ANSIBLE_INVENTORY_ENABLED for the run: the plugins the validation used."""
    return ",".join(SAFE_INVENTORY_PLUGINS)


def is_host_list(source: str) -> bool:
    """`host1,host2,` (Ansible's host_list plugin): a comma and no such path."""
    return "," in source and not os.path.exists(source)


def load_sources(sources: Sequence[str | Path], extra_vars: Mapping[str, Any] | None = None) -> Classified:
    """Validate every -i source and return the hosts classified. One YAML file: exactly
    inventory.load_inventory. Raises InputError (exit 2) with one line per problem."""
    if not sources:
        raise InputError("field inventory: no inventory given; pass -i FILE (repeatable)")
    texts = [str(s) for s in sources]
    if len(texts) == 1 and not is_host_list(texts[0]) and _is_yaml_file(Path(texts[0])):
        return classify(parse_inventory(Path(texts[0]), extra_vars))
    parts: list[Inventory] = []
    errors: list[str] = []
    files: list[Path] = []
    for text in texts:
        if is_host_list(text):
            try:
                parts.append(_from_plugin("host_list", text, Path(text)))
            except InputError as exc:
                errors.extend(exc.messages)
            continue
        _collect_files(Path(text), files, errors)
    for file in files:
        try:
            parts.append(_parse_file(file, extra_vars))
        except InputError as exc:
            errors.extend(exc.messages)
    if errors:
        raise InputError(errors)
    merged = _merge(parts, texts, extra_vars)
    _add_vars_dirs(merged, texts)
    return classify(merged)


def _is_yaml_file(path: Path) -> bool:
    """A file the YAML parser owns: a YAML suffix, or no suffix and a mapping inside."""
    if path.suffix in YAML_SUFFIXES:
        return True
    if path.suffix or not path.is_file():
        return not path.is_dir() and not path.suffix  # missing: the YAML path says "not found"
    try:
        text = read_text(path, "inventory")
    except InputError:
        return True  # the YAML path reports it
    if text.startswith("#!"):
        return False
    try:  # bounded nesting and aliases: an alias bomb is refused, not expanded
        return isinstance(load_bounded(text), dict)
    except (yaml.composer.ComposerError, RecursionError):
        return True  # YAML past the bounds: the YAML path says so
    except yaml.YAMLError:
        return False


def _collect_files(path: Path, files: list[Path], errors: list[str]) -> None:
    """Files of a source, directories walked the way Ansible's InventoryManager walks them
    (sorted, skipping hidden files, group_vars/, host_vars/ and its ignored extensions)."""
    from ansible.inventory.manager import IGNORED

    if path.is_dir():
        for name in sorted(os.listdir(path)):
            if IGNORED.search(name.encode()):
                continue
            _collect_files(path / name, files, errors)
        return
    if len(files) >= MAX_SOURCES:
        errors.append(f"{path}: field inventory: more than {MAX_SOURCES} inventory files; merge some of them")
        return
    files.append(path)


def _parse_file(path: Path, extra_vars: Mapping[str, Any] | None) -> Inventory:
    if _is_yaml_file(path):
        return parse_inventory(path, extra_vars)
    text = read_text(path, "inventory", "pass an existing file or directory with -i")
    if text.startswith("#!") or os.access(path, os.X_OK):
        raise InputError(f"{path}: field inventory: is an inventory script; {_WAY_OUT.format(src=path)}")
    for number, line in enumerate(text.splitlines(), 1):  # Ansible expands ranges while it parses
        for token in line.split():
            if range_size(token) > MAX_RANGE_HOSTS:
                raise InputError(f"{path}:{number}: field hosts: host pattern `{token[:60]}` expands to more than "
                                 f"{MAX_RANGE_HOSTS} hosts; use a smaller range")
    plugin = "toml" if path.suffix == ".toml" else "ini"
    return _from_plugin(plugin, str(path.resolve()), path)


def _from_plugin(name: str, source: str, path: Path) -> Inventory:
    """Parse one source with one of Ansible's text inventory plugins into the project's model."""
    from ansible.errors import AnsibleError
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import inventory_loader

    assert name in SAFE_INVENTORY_PLUGINS
    plugin = inventory_loader.get(name)
    data = InventoryData()
    shown = source if len(source) <= 80 else source[:77] + "..."
    if plugin is None or not plugin.verify_file(source):
        raise InputError(f"{shown}: field inventory: not an inventory {name} source; pass a YAML, INI or TOML "
                         "inventory file, a directory of them, or host1,host2,")
    try:
        # Ansible's own warnings (e.g. on group names) would be multi-line noise on stderr: the
        # checks below name every problem themselves, one line each.
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            plugin.parse(data, DataLoader(), source, cache=False)
            data.reconcile_inventory()
    except (AnsibleError, ValueError, TypeError) as exc:
        reason = " ".join(str(getattr(exc, "message", None) or exc).split())[:300]
        raise InputError(f"{shown}: field inventory: Ansible's {name} plugin cannot parse it ({reason}); "
                         "fix the file at that place") from exc
    return _to_model(data, path)


def _plain(value: Any) -> Any:
    """Ansible 2.19's tagged values -> plain types; vault-encrypted values stay opaque."""
    if type(value).__name__ == "EncryptedString":
        return Opaque("")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def _to_model(data: Any, path: Path) -> Inventory:
    """InventoryData (groups, hosts, vars as one plugin parsed them) -> inventory_model.Inventory."""
    groups: dict[str, GroupDef] = {}
    for name, group in data.groups.items():
        definition = groups.setdefault(str(name), GroupDef(str(name)))
        definition.hosts = [str(h.name) for h in group.hosts]
        definition.children = [str(c.name) for c in group.child_groups]
        values = _plain(dict(group.vars))
        if values:
            definition.var_blocks.append(VarBlock("group", str(name), path, values))
    host_order = [str(h) for h in data.hosts]
    host_blocks: dict[str, list[VarBlock]] = {}
    for name, host in data.hosts.items():
        values = {k: v for k, v in _plain(dict(host.vars)).items() if k not in ("inventory_file", "inventory_dir")}
        host_blocks[str(name)] = [VarBlock("host", str(name), path, values)] if values else []
    return Inventory(path=path, groups=groups, host_order=host_order, host_blocks=host_blocks,
                     host_lines={h: 0 for h in host_order}, extra_vars={})


def _merge(parts: Sequence[Inventory], sources: Sequence[str], extra_vars: Mapping[str, Any] | None) -> Inventory:
    """Several sources as Ansible merges them: groups and hosts united, later values win."""
    groups: dict[str, GroupDef] = {"all": GroupDef("all")}
    host_order: dict[str, None] = {}
    host_blocks: dict[str, list[VarBlock]] = {}
    host_lines: dict[str, int] = {}
    for part in parts:
        for name, group in part.groups.items():
            target = groups.setdefault(name, GroupDef(name, line=group.line))
            target.hosts.extend(h for h in group.hosts if h not in target.hosts)
            target.children.extend(c for c in group.children if c not in target.children)
            target.var_blocks.extend(group.var_blocks)
        for host in part.host_order:
            host_order.setdefault(host, None)
            host_blocks.setdefault(host, []).extend(part.host_blocks.get(host, []))
            host_lines.setdefault(host, part.host_lines.get(host, 0))
    for name in list(groups):  # a top-level group of one source is a child of `all`
        if name != "all" and not any(name in g.children for g in groups.values()):
            groups["all"].children.append(name)
    shown = ", ".join(sources)
    return Inventory(path=Path(shown if len(shown) <= 200 else shown[:197] + "..."), groups=groups,
                     host_order=list(host_order), host_blocks=host_blocks, host_lines=host_lines,
                     extra_vars=extra_vars if isinstance(extra_vars, dict) else dict(extra_vars or {}))


def _add_vars_dirs(inventory: Inventory, sources: Sequence[str]) -> None:
    """group_vars/ and host_vars/ beside each non-YAML source (a directory: inside it), as
    Ansible's host_group_vars plugin reads them; YAML files already read theirs."""
    from ansible_collections.openshell_auto.cluster.plugins.module_utils import hostile

    problems = hostile.check_names([(str(inventory.path), h) for h in inventory.host_order],
                                   [(str(inventory.path), g) for g in inventory.groups])
    if problems:  # never look up group_vars/<name> for a name that is a path
        raise InputError(problems)
    seen = {block.file for block in inventory.all_blocks() if block.file is not None}
    errors: list[str] = []
    bases: dict[Path, None] = {}
    for source in sources:
        if is_host_list(source):
            continue
        path = Path(source)
        bases.setdefault((path if path.is_dir() else path.parent).resolve(), None)
    for base in bases:
        for name, group in inventory.groups.items():
            for file in vars_files(base, "group_vars", name):
                if file not in seen and file.resolve() not in seen:
                    seen.add(file)
                    block = load_vars_file(file, "group", name, errors)
                    if block:
                        group.var_blocks.insert(0, block)
        for host in inventory.host_order:
            for file in vars_files(base, "host_vars", host):
                if file not in seen and file.resolve() not in seen:
                    seen.add(file)
                    block = load_vars_file(file, "host", host, errors)
                    if block:
                        inventory.host_blocks.setdefault(host, []).insert(0, block)
    if errors:
        raise InputError(errors)

