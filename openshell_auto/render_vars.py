"""The variables one rendered file reaches, each templated once per distinct input for a render.

Ansible templates a variable whose value is a template (`__k3s_unit_file:
/etc/systemd/system/{{ __k3s_service }}.service`) again every time a template reaches it, for
every host and every file. A template's result depends only on the values of the names it uses,
so here each such variable is templated once for each distinct set of those values (the names'
own templates resolved first, down the chain) and its result is handed to the file's template as
a plain value: Ansible does not template a result again (results are never trusted as
templates), so the file reads what it would have read through Ansible's lazy templating.

A variable stays as it is, for Ansible to template lazily in the file's own template as before,
where its result could differ there: it uses names the template step itself defines
(`template_path`, `ansible_managed`, ...) or lookups (their search path is the role's), its
template fails (Ansible raises or defaults where the file uses it), or its result is not plain
data (omitted values, hostvars). Names reached through `vars`, a `vars` lookup or an include
cannot be known; then the caller falls back to handing every variable over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

# Names whose values the template step or the template's environment supplies, not the variables:
# a variable using one is left to Ansible's lazy templating in the file's own template.
LATE_NAMES = frozenset({"lookup", "query", "q", "now", "omit", "undef", "ansible_managed", "template_host",
                        "template_path", "template_mtime", "template_uid", "template_run_date",
                        "template_destpath", "template_fullpath", "role_path", "playbook_dir"})
_MARKERS = ("{{", "{%")
_BARE_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Dynamic(Exception):
    """The names a value reaches cannot be known statically."""


@dataclass(frozen=True)
class Node:
    """One variable of one host: `ident` names its value (equal idents, equal values for any
    template); `value` is what a template is handed (resolved, or the raw value when `lazy`);
    a lazy node's `deps` must be handed over with it."""

    ident: int
    value: Any
    lazy: bool
    deps: tuple[str, ...] = ()


_PENDING = Node(-1, None, True)
def _plain(value: Any) -> bool:
    """Data a template reads as it would read the lazily templated value: strings that are no
    trusted template, numbers, booleans, None, and dicts and lists of them (Ansible's tagged
    types included; its lazy containers, markers and other objects not)."""
    from ansible.template import is_trusted_as_template

    if isinstance(value, str):
        return "{" not in value or not is_trusted_as_template(value)
    if value is None or isinstance(value, (bool, int, float)):
        return True
    if _lazy(value):
        return False
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def _trusted(value: str) -> bool:
    from ansible.template import is_trusted_as_template

    return bool(is_trusted_as_template(value))


def _lazy(value: Any) -> bool:
    try:
        from ansible._internal._templating._lazy_containers import _AnsibleLazyTemplateMixin
    except ImportError:  # pragma: no cover - other ansible-core: no lazy containers to tell apart
        return False
    return isinstance(value, _AnsibleLazyTemplateMixin)


class Resolver:
    """Per render (per worker process): interned values and each template's result by its inputs."""

    def __init__(self, loader: Any, names_used: Callable[[str], frozenset[str] | None]) -> None:
        self._loader = loader
        self._names_used = names_used
        self._ids: dict[Hashable, int] = {}
        self._results: dict[int, tuple[Any, bool]] = {}  # template node ident -> (value, lazy)
        self._keep: list[Any] = []  # objects keyed by identity live as long as the render
        self._container_keys: dict[int, Hashable] = {}
        self._strings: dict[int, tuple[str, ...]] = {}  # id(container) -> template strings inside
        self._shapes: dict[int, tuple[Hashable, tuple[str, ...] | None]] = {}  # id(value) -> shape()
        self._leaves: dict[int, Node] = {}  # id(value) -> leaf()
        self._templar: Any = None

    def intern(self, key: Hashable) -> int:
        ident = self._ids.get(key)
        if ident is None:
            ident = self._ids[key] = len(self._ids)
        return ident

    def value_key(self, value: Any) -> Hashable:
        """Equal keys: equal values for a template (types, order and trust of templates kept)."""
        if value is None:
            return ("none",)
        if isinstance(value, bool):
            return ("bool", bool(value))
        if isinstance(value, int):
            return ("int", int(value))
        if isinstance(value, float):
            return ("float", float(value))
        if isinstance(value, str):
            if "{" not in value:
                return value
            from ansible.template import is_trusted_as_template

            return ("str", str(value), is_trusted_as_template(value))
        if isinstance(value, (dict, list, tuple)):
            cached = self._container_keys.get(id(value))
            if cached is None:
                if isinstance(value, dict):
                    cached = ("dict", tuple((self.value_key(k), self.value_key(v)) for k, v in value.items()))
                else:
                    kind = "list" if isinstance(value, list) else "tuple"
                    cached = (kind, tuple(self.value_key(v) for v in value))
                self._keep.append(value)
                self._container_keys[id(value)] = cached
            return cached
        self._keep.append(value)
        return ("object", id(value))

    def template_strings(self, value: Any) -> tuple[str, ...]:
        """The strings inside a value that hold a template (mapping keys included)."""
        from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import iter_strings

        if isinstance(value, str):
            return (value,) if any(m in value for m in _MARKERS) else ()
        if not isinstance(value, (dict, list, tuple)):
            return ()
        cached = self._strings.get(id(value))
        if cached is None:
            cached = tuple(s for s in iter_strings(value) if any(m in s for m in _MARKERS))
            self._keep.append(value)
            self._strings[id(value)] = cached
        return cached

    def shape(self, value: Any) -> tuple[Hashable, tuple[str, ...] | None]:
        """(value_key, the names its templates use, sorted; None: it holds no template), once per
        object of a render (role defaults are the same objects for every host)."""
        cached = self._shapes.get(id(value))
        if cached is None:
            names = self.names_of(value)
            deps = tuple(sorted(names)) if names or self.template_strings(value) else None
            cached = self._shapes[id(value)] = (self.value_key(value), deps)
            self._keep.append(value)
        return cached

    def leaf(self, value: Any, key: Hashable) -> Node:
        """The node of a value without templates: handed over as it is."""
        node = self._leaves.get(id(value))
        if node is None:
            node = self._leaves[id(value)] = Node(self.intern(("value", key)), value, False)
            self._keep.append(value)
        return node

    def names_of(self, value: Any) -> frozenset[str]:
        names: set[str] = set()
        for text in self.template_strings(value):
            used = self._names_used(text)
            if used is None:
                raise Dynamic(text)
            names |= used
        return frozenset(names)

    def result(self, ident: int, value: Any, variables: Callable[[], dict[str, Any]]) -> tuple[Any, bool]:
        """(result, False) or (value, True) when it stays for Ansible to template lazily; templated
        over variables() the first time this ident is asked for."""
        cached = self._results.get(ident)
        if cached is None:
            cached = self._results[ident] = self._template(value, variables())
        return cached

    def _template(self, value: Any, variables: dict[str, Any]) -> tuple[Any, bool]:
        from ansible.template import Templar

        if self._templar is None:
            self._templar = Templar(loader=self._loader)
        self._templar.available_variables = variables
        try:
            result = self._templar.template(value)
        except Exception:  # noqa: BLE001 - it fails (or defaults) where the file uses it, as before
            return value, True
        if not _plain(result):
            return value, True
        return result, False

    def scope(self, variables: dict[str, Any]) -> Scope:
        return Scope(self, variables)


class Scope:
    """One host's variables, resolved on demand."""

    def __init__(self, resolver: Resolver, variables: dict[str, Any]) -> None:
        self._resolver = resolver
        self._variables = variables
        self._nodes: dict[str, Node | None] = {}

    def node(self, name: str) -> Node | None:
        """None for a name that is no variable (undefined, or a loop/set name of the template)."""
        if name in self._nodes:
            node = self._nodes[name]
            if node is _PENDING:
                raise Dynamic(f"{name} reaches itself")
            return node
        if name not in self._variables:
            self._nodes[name] = None
            return None
        resolver = self._resolver
        value = self._variables[name]
        key, deps = resolver.shape(value)
        if deps is None:
            node = resolver.leaf(value, key)
            self._nodes[name] = node
            return node
        self._nodes[name] = _PENDING
        dep_nodes = [self.node(d) for d in deps]
        ident = resolver.intern(("template", key,
                                 tuple((d, n.ident if n else None) for d, n in zip(deps, dep_nodes, strict=True))))
        if any(d in LATE_NAMES for d in deps) or any(n is not None and n.lazy for n in dep_nodes):
            node = Node(ident, value, True, deps)
        elif (len(dep_nodes) == 1 and (only := dep_nodes[0]) is not None and isinstance(value, str)
              and (bare := _BARE_NAME.fullmatch(value)) is not None and bare.group(1) == deps[0]
              and _plain(only.value) and _trusted(value)):
            node = only  # `{{ name }}` is name's value: Ansible's native templating returns that value itself
        else:
            result, lazy = resolver.result(ident, value, lambda: self.handed(deps)[1])
            if lazy:
                node = Node(ident, value, True, deps)
            else:  # named by its result: hosts whose inputs differ but results agree share what follows
                node = Node(resolver.intern(("value", resolver.value_key(result))), result, False)
        self._nodes[name] = node
        return node

    def handed(self, names: Iterable[str]) -> tuple[Hashable, dict[str, Any]]:
        """(key, variables) for a template that uses `names`: each name's value, and the
        dependencies of those left for Ansible to template. Equal keys: equal renders."""
        handed: dict[str, Any] = {}
        key: list[tuple[str, int]] = []
        pending = sorted(set(names))
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            node = self.node(name)
            if node is None:
                continue
            handed[name] = node.value
            key.append((name, node.ident))
            if node.lazy:
                pending.extend(node.deps)
        return tuple(sorted(key)), handed
