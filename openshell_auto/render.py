"""Offline render: every registered role template, for every selected host, no host contacted.

Templates are rendered in-process by Ansible's own engine (Templar, DataLoader, InventoryManager,
VariableManager), so filters and lookups behave exactly as in the roles. Variable precedence
mirrors a play: all role defaults < inventory (group, host) vars < role vars/main.yml < extra
vars. Magic variables (groups incl. the dynamic openshell_role_* groups, hostvars,
inventory_hostname, ...) come from Ansible; `ansible_facts` is empty (templates must not need
facts) and `ansible_managed` is set as the template module sets it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openshell_auto import paths
from openshell_auto.errors import InputError, RenderError
from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import (
    host_name_problem,
    iter_strings,
    shown,
)

DYNAMIC_GROUPS = ("openshell_role_server", "openshell_role_agent", "openshell_role_gpu", "openshell_role_first_server")


@dataclass
class RenderedHost:
    host: str
    roles: list[str]
    files: list[tuple[str, Path]] = field(default_factory=list)  # (dest on host, written file)


@dataclass
class RenderResult:
    outdir: Path
    inventory: Path
    hosts: list[RenderedHost]

    @property
    def file_count(self) -> int:
        return sum(len(h.files) for h in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        """`render --json`: per host its roles and each file (path on the host, file written)."""
        return {"inventory": str(self.inventory), "outdir": str(self.outdir), "file_count": self.file_count,
                "hosts": [{"host": h.host, "roles": h.roles,
                           "files": [{"dest": dest, "path": str(path)} for dest, path in h.files]}
                          for h in self.hosts]}


def _trust(value: Any) -> Any:
    """Mark strings as templates, as Ansible does for values it loads from YAML/-e."""
    from ansible.template import trust_as_template

    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trust(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trust(v) for v in value]
    return value


def _role_files(loader: Any, roles_dir: Path, sub: str) -> dict[str, Any]:
    """defaults/main.yml or vars/main.yml of every role, loaded by Ansible (template trust)."""
    merged: dict[str, Any] = {}
    if not roles_dir.is_dir():
        return merged
    for role in sorted(p for p in roles_dir.iterdir() if p.is_dir()):
        for name in ("main.yml", "main.yaml"):
            file = role / sub / name
            if file.is_file():
                # read once per render and never changed: no cached copy, no deep copy of it
                data = loader.load_from_file(str(file), cache="none", unsafe=True, trusted_as_template=True)
                if isinstance(data, dict):
                    merged.update(data)
                break
    return merged


def render_inventory(inventory: Path | str, outdir: Path | str, extra_vars: Sequence[str] = (),
                     registry: Iterable[Any] | None = None) -> RenderResult:
    """Validate the inventory, then render every RENDERED_FILES entry for its hosts.

    Raises InputError (bad inventory / -e, exit 2) or RenderError (a template failed, exit 1).
    """
    from openshell_auto import rendered_files
    from openshell_auto.extra_vars import parse_extra_vars
    from openshell_auto.inventory import load_inventory
    from openshell_auto.render_vars import Resolver

    content = paths.content()
    os.environ.setdefault("ANSIBLE_CONFIG", str(content.ansible_cfg))
    inventory_path = Path(inventory)
    variables = parse_extra_vars(extra_vars)
    classified = load_inventory(inventory_path, variables)
    entries = list(rendered_files.RENDERED_FILES if registry is None else registry)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"-o {outdir}: field outdir: is not a directory; give a new or existing directory")
    root = outdir.resolve()
    for host in classified.hosts:  # names were checked with the inventory; this is where they become paths
        place = (outdir / host).resolve()
        if not host_name_problem(host) and place != root and not place.is_relative_to(root) and (outdir / host).is_symlink():
            raise InputError(f"-o {outdir}: {outdir / host} is a symlink that leads outside {outdir}; remove it or "
                             "give another output directory")
        if host_name_problem(host) or not place.is_relative_to(root) or place == root:
            raise InputError(f"-o {outdir}: host {shown(host)}: field name: would be written outside {outdir}; "
                             "rename the host")

    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory_path.resolve())])
    # What role `openshell` does with group_by, so templates see the same groups as in a play.
    first = [classified.first_server] if classified.first_server else []
    for group, members in zip(DYNAMIC_GROUPS, (classified.servers, classified.agents, classified.gpu_hosts, first),
                              strict=True):
        manager.add_group(group)
        for host in members:
            manager.add_host(host, group=group)
    variable_manager = _caching_variable_manager(VariableManager)(loader=loader, inventory=manager)
    HostVars(inventory=manager, variable_manager=variable_manager, loader=loader)  # registers `hostvars`
    trusted_extra = _trust(variables)
    variable_manager._extra_vars = trusted_extra  # noqa: SLF001 - what `-e` sets in ansible-playbook
    defaults = _role_files(loader, content.roles, "defaults")
    role_vars = _role_files(loader, content.roles, "vars")

    context = _Context(loader=loader, manager=manager, variable_manager=variable_manager, defaults=defaults,
                       role_vars=role_vars, extra=trusted_extra, classified=classified, roles=content.roles,
                       outdir=outdir, entries=entries,
                       selected={i: set(classified.select(e.hosts)) for i, e in enumerate(entries)},
                       resolver=Resolver(loader, names_of))
    work = [h for h in classified.hosts if any(h in context.selected[i] for i in range(len(entries)))]
    with compile_cache(), _strings_cache(context.resolver.template_strings):
        if _workers(context, work) > 1:
            # The first host here: the workers inherit what it loaded and templated (filter
            # plugins, compiled templates, the variables every host shares) instead of each redoing it.
            results = [_render_host(context, work[0]), *_run_parallel(context, work[1:])]
        else:
            results = [_render_host(context, h) for h in work]
    by_host = {host: (files, errors) for host, files, errors in results}
    errors = [e for host in work for e in by_host[host][1]]
    if errors:
        raise RenderError(errors)
    rendered = [RenderedHost(h, classified.roles_of(h), [(d, Path(p)) for d, p in by_host.get(h, ([], []))[0]])
                for h in classified.hosts]
    return RenderResult(outdir=outdir, inventory=inventory_path, hosts=rendered)


def _caching_variable_manager(base: type) -> type:
    """A VariableManager that remembers `hostvars[<host>]` lookups for the render (nothing changes
    variables during a render; templates look up e.g. the first server's vars once per file)."""

    class CachingVariableManager(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._render_cache: dict[str, dict[str, Any]] = {}

        def get_vars(self, play: Any = None, host: Any = None, task: Any = None, include_hostvars: bool = True,
                     *args: Any, **kwargs: Any) -> dict[str, Any]:
            if play is None and task is None and host is not None and not include_hostvars and not args \
                    and not kwargs:
                name = host.get_name()
                if name not in self._render_cache:
                    self._render_cache[name] = super().get_vars(host=host, include_hostvars=False)
                return dict(self._render_cache[name])
            result: dict[str, Any] = super().get_vars(play, host, task, include_hostvars, *args, **kwargs)
            return result

    return CachingVariableManager


@contextmanager
def compile_cache() -> Iterator[None]:
    """Compile each template source once per render instead of once per host.

    Jinja's `Environment.compile` (lex, parse, generate Python) is a pure function of the source
    and the environment's syntax settings; Ansible re-runs it for every host. While this context
    is active, identical compiles reuse the code object; the template is still bound to the
    calling environment (filters, search path, variables), so results do not change. Falls back
    to no cache if ansible-core's internals differ.
    """
    try:
        from ansible._internal._templating import _jinja_bits
    except ImportError:  # pragma: no cover - other ansible-core
        yield
        return
    env_class = _jinja_bits.AnsibleEnvironment
    compile_context = getattr(_jinja_bits, "_TemplateCompileContext", None)
    debug_context = getattr(_jinja_bits, "_CompileStateSmugglingCtx", None)
    if compile_context is None or debug_context is None or "compile" in env_class.__dict__:
        yield
        return
    original = env_class.compile
    cache: dict[tuple[Any, ...], Any] = {}

    def cached_compile(self: Any, source: Any, name: str | None = None, filename: str | None = None,
                       raw: bool = False, defer_init: bool = False) -> Any:
        if raw or not isinstance(source, str) or debug_context.current(optional=True) is not None:
            return original(self, source, name, filename, raw, defer_init)
        current = compile_context.current(optional=True)
        key = (str(source), name, filename, defer_init, getattr(current, "escape_backslashes", None),
               self.block_start_string, self.block_end_string, self.variable_start_string,
               self.variable_end_string, self.comment_start_string, self.comment_end_string,
               self.line_statement_prefix, self.line_comment_prefix, self.trim_blocks, self.lstrip_blocks,
               self.newline_sequence, self.keep_trailing_newline, self.optimized, self.is_async,
               repr(self.autoescape), tuple(sorted(self.extensions)), type(self))
        if key not in cache:
            cache[key] = original(self, source, name, filename, raw, defer_init)
        return cache[key]

    env_class.compile = cached_compile
    try:
        yield
    finally:
        del env_class.compile  # back to jinja2.Environment.compile


@dataclass
class _Context:
    """Everything a (forked) worker needs to render hosts."""

    loader: Any
    manager: Any
    variable_manager: Any
    defaults: dict[str, Any]
    role_vars: dict[str, Any]
    extra: dict[str, Any]
    classified: Any
    roles: Path
    outdir: Path
    entries: list[Any]
    selected: dict[int, set[str]]
    sources: dict[Path, str | None] = field(default_factory=dict)  # template text by file (None: no file)
    memo: dict[Any, Any] = field(default_factory=dict)  # _memo_key or (index, Scope.handed key) -> outcome
    resolver: Any = None  # render_vars.Resolver: each variable's template once per distinct input
    made: set[Path] = field(default_factory=set)  # directories this process made or found


_HostResult = tuple[str, list[tuple[str, str]], list[str]]
_WORKER_CONTEXT: _Context | None = None
PARALLEL_MIN_FILES = 60  # below this, starting workers costs more than it saves


def _workers(context: _Context, hosts: list[str]) -> int:
    """Worker processes: $OPENSHELL_AUTO_RENDER_WORKERS, else one per CPU (max 8) for big renders."""
    files = sum(len(s & set(hosts)) for s in context.selected.values())
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = os.environ.get("OPENSHELL_AUTO_RENDER_WORKERS", "")
    if wanted.isdigit() and int(wanted) > 0:
        cpus = int(wanted)
    elif files < PARALLEL_MIN_FILES:
        return 1
    if "fork" not in _start_methods():
        return 1
    return max(1, min(cpus, 8, len(hosts)))


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _worker(host: str) -> _HostResult:
    assert _WORKER_CONTEXT is not None
    return _render_host(_WORKER_CONTEXT, host)


def _run_parallel(context: _Context, hosts: list[str]) -> list[_HostResult]:
    """Render hosts in forked workers (they inherit the loaded inventory; results are small)."""
    import multiprocessing

    global _WORKER_CONTEXT  # noqa: PLW0603 - handed to forked children
    _WORKER_CONTEXT = context
    try:
        with multiprocessing.get_context("fork").Pool(_workers(context, hosts)) as pool:
            return pool.map(_worker, hosts, chunksize=max(1, len(hosts) // 16))
    finally:
        _WORKER_CONTEXT = None


def _render_host(context: _Context, host_name: str) -> _HostResult:
    """Render every selected entry for one host; write the files; return (host, files, errors)."""
    classified = context.classified
    files: list[tuple[str, str]] = []
    errors: list[str] = []
    host = context.manager.get_host(host_name)
    host_vars = context.variable_manager.get_vars(host=host, include_hostvars=True)
    all_vars: dict[str, Any] = {**context.defaults, **host_vars, **context.role_vars, **context.extra}
    all_vars.setdefault("ansible_facts", {})
    all_vars.update({
        "__openshell_is_server": host_name in classified.servers,
        "__openshell_is_agent": host_name in classified.agents,
        "__openshell_is_gpu": host_name in classified.gpu_hosts,
    })
    scope = context.resolver.scope(all_vars)
    host_root = context.outdir / host_name
    resolved_root: list[Path] = []  # resolved once, at this host's first file
    for index, entry in enumerate(context.entries):
        if host_name not in context.selected[index]:
            continue
        label = f"host {host_name}: {entry.role}/templates/{entry.template}"
        source = context.roles / entry.role / "templates" / entry.template
        if source not in context.sources:
            context.sources[source] = source.read_text(encoding="utf-8") if source.is_file() else None
        template = context.sources[source]
        if template is None:
            errors.append(f"{source}: {label}: template not found; fix the RENDERED_FILES entry")
            continue
        texts = ("{{ " + entry.when + " }}" if entry.when else "", entry.dest, template)
        if entry.when and _wanted_once(context, scope, index, label) is False:
            continue  # `when` first: a file not written needs nothing else
        handed = _handed(scope, texts)
        key: Any = None if handed is None else (index, handed[0])
        outcome = context.memo.get(key) if key is not None else None
        if outcome is None:  # not rendered yet: which variables can the entry reach at all?
            needed = referenced_variables(texts, all_vars)
            if needed is not None and handed is not None:
                variables = handed[1]
            else:
                variables = all_vars if needed is None else {k: v for k, v in all_vars.items() if k in needed}
                key = None if needed is None else _memo_key(index, variables)
                outcome = context.memo.get(key) if key is not None else None
        if outcome is None:
            outcome = _evaluate(context, entry, source, variables, label)
            if key is not None and isinstance(outcome, tuple):
                context.memo[key] = outcome
        if isinstance(outcome, str):
            errors.append(outcome)
            continue
        if not isinstance(outcome, tuple):  # False: its `when` is false here
            continue
        dest, text = outcome
        target = host_root / dest.lstrip("/")
        if "\x00" in dest or ".." in Path(dest).parts or not _stays_in(host_root, resolved_root, target):
            errors.append(f"{label}: field dest rendered to `{shown(dest)}`, which leaves {context.outdir}/"
                          f"{host_name}; set the role variable to an absolute path without `..`")
            continue
        _make_dirs(target.parent, context.made)
        if not _stays_in(host_root, resolved_root, target):  # a symlink created meanwhile
            errors.append(f"{label}: {target} leaves {context.outdir}/{host_name}; remove the symlink there")
            continue
        target.write_text(text, encoding="utf-8")
        target.chmod(0o600)  # rendered files may hold tokens
        files.append((dest, str(target)))
    return host_name, files, errors


def _stays_in(root: Path, resolved: list[Path], target: Path) -> bool:
    """hostile.inside(root, target), with `root` resolved once per host (`resolved` keeps it)."""
    if not resolved:
        resolved.append(root.resolve())
    return target.resolve().is_relative_to(resolved[0])


def _wanted_once(context: _Context, scope: Any, index: int, label: str) -> bool | None:
    """An entry's `when` over the variables it reaches, once per distinct set of their values;
    None where those cannot be known or it fails (the entry's evaluation then reports it)."""
    from ansible.template import Templar

    entry = context.entries[index]
    handed = _handed(scope, ("{{ " + entry.when + " }}",))
    if handed is None:
        return None
    key = ("when", index, handed[0])
    if key not in context.memo:
        wanted = _wanted(Templar(loader=context.loader, variables=handed[1]), entry, label)
        if isinstance(wanted, str):
            return None
        context.memo[key] = wanted
    result: bool = context.memo[key]
    return result


def _make_dirs(directory: Path, made: set[Path]) -> None:
    """`mkdir -p directory`, without asking again for the directories this render made or found."""
    missing: list[Path] = []
    while directory not in made and directory.parent != directory:
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        made.add(path)


def _handed(scope: Any, texts: Iterable[str]) -> tuple[Any, dict[str, Any]] | None:
    """(memo key, variables) for an entry: the names its texts use, each variable templated once
    per distinct input (render_vars); None where the names cannot be known (every variable then)."""
    from openshell_auto.render_vars import Dynamic

    names: set[str] = set()
    for text in texts:
        if any(marker in text for marker in _TEMPLATE_MARKERS):
            used = names_of(text)
            if used is None:
                return None
            names |= used
    try:
        handed: tuple[Any, dict[str, Any]] = scope.handed(names)
    except Dynamic:
        return None
    return handed


def _memo_key(index: int, variables: dict[str, Any]) -> str:
    """The same entry with the same values of every variable it can reach renders the same text:
    hosts that differ in nothing the template reads share one render. Objects without a JSON form
    (Ansible's hostvars) are the same object for every host of one render, so their identity keys."""
    import json

    return json.dumps([index, variables], sort_keys=True, default=lambda o: f"<{type(o).__name__} {id(o)}>")


_Outcome = tuple[str, str] | str | bool  # (dest, text), an error message, or False: `when` is false


def _evaluate(context: _Context, entry: Any, source: Path, variables: dict[str, Any], label: str) -> _Outcome:
    """`when`, `dest` and the template of one entry over `variables`, as the role would template them."""
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=context.loader, variables=variables)
    wanted = _wanted(templar, entry, label)
    if wanted is not True:
        return wanted
    try:
        dest = entry.dest
        if any(marker in dest for marker in _TEMPLATE_MARKERS):
            dest = str(templar.template(trust_as_template(dest)))
        dest = dest.strip()
    except Exception as exc:  # noqa: BLE001 - Ansible raises many error types
        return f"{label}: field dest `{entry.dest}`: {_one_line(exc)}"
    if not dest.startswith("/"):
        return (f"{label}: field dest rendered to `{dest}`, not an absolute path; "
                "fix the role variable or the RENDERED_FILES entry")
    try:
        return dest, render_template(context.loader, templar, variables, source, dest)
    except Exception as exc:  # noqa: BLE001
        return f"{label}: {_one_line(exc)}"


def _wanted(templar: Any, entry: Any, label: str) -> bool | str:
    """An entry's `when`: True (no `when`, or true), False, or an error message."""
    from ansible.template import trust_as_template

    if not entry.when:
        return True
    try:
        wanted = templar.template(trust_as_template("{{ (" + entry.when + ") | bool }}"))
    except Exception as exc:  # noqa: BLE001 - Ansible raises many error types
        return f"{label}: field when `{entry.when}`: {_one_line(exc)}"
    return str(wanted).strip().lower() in ("true", "1")


def render_template(loader: Any, templar: Any, variables: dict[str, Any], source: Path, dest: str) -> str:
    """Render one template file the way ansible.builtin.template does (trim_blocks, search path)."""
    from ansible.template import trust_as_template

    try:
        from ansible.template import generate_ansible_template_vars

        template_vars = generate_ansible_template_vars(path=source.name, fullpath=str(source), dest_path=dest)
    except ImportError:  # pragma: no cover - older/newer ansible-core
        template_vars = {"ansible_managed": "Ansible managed"}
    temp_vars = {**variables, **{k: v for k, v in template_vars.items()
                                 if k != "ansible_managed" or "ansible_managed" not in variables}}
    role_dir = source.parent.parent
    searchpath = [str(source.parent), str(role_dir)]
    data_templar = templar.copy_with_new_env(searchpath=searchpath, available_variables=temp_vars)
    text = trust_as_template(loader.get_text_file_contents(str(source)))
    result = data_templar.template(text, escape_backslashes=False,
                                   overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"})
    return str(result)


# Names whose values a template reaches only by a string built at run time: where a template uses
# one, it gets every variable.
_DYNAMIC_LOOKUP = re.compile(r"""\b(?:lookup|query|q)\s*\(\s*['"](?:vars|varnames)['"]""")
_TEMPLATE_MARKERS = ("{{", "{%")


def referenced_variables(texts: Iterable[str], variables: dict[str, Any]) -> set[str] | None:
    """The variables the Jinja in `texts` can reach: the names it uses, and, through every value
    that is itself a template, the names those use, to the end of the chain.

    Ansible's templar wraps every variable it is handed in a lazy container for each template it
    evaluates (nested ones included), so handing it only these names makes each evaluation cost
    what the template uses rather than every role default. None (hand it everything) when the
    reach cannot be known statically: a syntax this parser does not read, `vars`, a `vars` lookup,
    or an include/import. During a render, the walk of each value is done once (_STRINGS).
    """
    template_strings = _STRINGS
    seen: set[str] = set()
    pending = [t for t in texts if t]
    while pending:
        text = pending.pop()
        if not any(marker in text for marker in _TEMPLATE_MARKERS):
            continue
        names = names_of(text)
        if names is None:
            return None
        for name in names - seen:
            seen.add(name)
            value = variables.get(name)
            # Plain data only: `hostvars` (a lazy mapping) would template every host's variables on
            # the walk, and its values are templated by Ansible with that host's own variables anyway.
            if template_strings is not None:
                pending.extend(template_strings(value))
            elif isinstance(value, (str, dict, list, tuple)):
                pending.extend(t for t in iter_strings(value) if any(m in t for m in _TEMPLATE_MARKERS))
    return seen


_NAMES: dict[str, frozenset[str] | None] = {}  # template text -> names it loads (None: not knowable)
# During a render: a value -> the strings inside it that hold a template, cached (Resolver.template_strings).
_STRINGS: Callable[[Any], Iterable[str]] | None = None


@contextmanager
def _strings_cache(template_strings: Callable[[Any], Iterable[str]]) -> Iterator[None]:
    global _STRINGS  # noqa: PLW0603 - read by referenced_variables, inherited by forked workers
    _STRINGS = template_strings
    try:
        yield
    finally:
        _STRINGS = None


def names_of(text: str) -> frozenset[str] | None:
    """The names a template text loads (cached); None where they cannot be known."""
    if text not in _NAMES:
        _NAMES[text] = _names_used(text)
    return _NAMES[text]


def _names_used(text: str) -> frozenset[str] | None:
    import jinja2
    from jinja2 import nodes

    if _DYNAMIC_LOOKUP.search(text):
        return None
    try:
        tree = jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"]).parse(text)
    except jinja2.TemplateSyntaxError:
        return None
    if any(True for _ in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))):
        return None
    names = frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")  # loop names too
    return None if "vars" in names else names


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    return text if len(text) <= 400 else text[:397] + "..."


def print_render_table(result: RenderResult, console: Any) -> None:
    """Per-host rows (host, roles, files, paths on the host) and where the files went."""
    from openshell_auto import tables

    rows = []
    for host in result.hosts:
        dests = [d for d, _ in host.files]
        shown = " ".join(dests[:6]) + (f" +{len(dests) - 6} more" if len(dests) > 6 else "")
        rows.append([host.host, ",".join(host.roles), str(len(host.files)), shown or "-"])
    tables.show(console, f"render of {result.inventory}", ["host", "roles", "files", "paths on the host"], rows,
                right=["files"])
    if result.file_count:
        console.print(f"{result.file_count} files written under {result.outdir}/<host>/<path on the host>",
                      soft_wrap=True)
    else:
        console.print("no files registered yet (openshell_auto/rendered_files.py RENDERED_FILES is empty)")
