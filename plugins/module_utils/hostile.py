"""Checks for inventory values that could escape, run or inject: one function per rule.

Every inventory value is hostile. The rules here decide, before anything runs:

- which Jinja an inventory or `-e` value may use (`template_problem`): variable references,
  pure filters and tests, `if`/`for`; never a lookup, a query, a call other than a few pure
  methods, private attributes, imports or macros. Checked on the parsed template (Jinja's AST),
  not with patterns, so no spelling gets around it;
- which host and group names are safe as file names (`host_name_problem`, `group_name_problem`):
  render writes OUTDIR/<host>/..., the doctor's bundle hosts/<host>.json, and the inventory checks
  read group_vars/<group> and host_vars/<host>;
- which host addresses and node names are valid (`address_problem`, `node_name_problem`);
- which values may land in a line-based file (`line_value_problem`): systemd unit and environment
  files, apt and dnf source files;
- which paths `reset` may remove (`removable_path_problem`, also the k3s role's filter).

`check_inventory` applies them to a parsed inventory; messages are one line each and name the
file, the host or group, the field and the fix. No ansible import here.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from openshell_auto.inventory_model import Inventory, VarBlock

MAX_SHOWN = 60  # characters of a bad value echoed in a message


class Opaque(str):
    """A value Ansible decrypts or marks at run time (!vault, !unsafe): never type-checked."""

# --------------------------------------------------------------------------- templates
_TEMPLATE_MARKERS = ("{{", "{%", "{#")
# Filters that compute on their arguments only (Jinja's builtins and ansible.builtin's pure ones).
SAFE_FILTERS = frozenset("""
    abs b64decode b64encode basename bool capitalize center checksum combine comment count d
    default dict2items difference dirname escape first flatten float format from_json from_yaml
    from_yaml_all hash indent int intersect items2dict join last length list lower map mandatory max
    min password_hash quote random_seed regex_escape regex_findall regex_replace regex_search reject
    rejectattr replace reverse round select selectattr sha1 md5 slice sort split splitext string
    subelements sum symmetric_difference ternary title to_json to_nice_json to_nice_yaml to_yaml trim
    truncate type_debug union unique upper urlsplit wordcount zip zip_longest product permutations
    combinations items dictsort groupby batch tojson unicode extract human_readable human_to_bytes
    expanduser splitlines strftime to_datetime bool dict2items path_join
    """.split())
# Tests that look at the controller's file system: not for inventory values.
UNSAFE_TESTS = frozenset({"exists", "file", "directory", "link", "mount", "is_file", "is_dir", "is_link",
                          "is_mount", "same_file", "samefile", "is_same_file"})
# Names that reach outside the inventory when called or referenced.
UNSAFE_NAMES = frozenset({"lookup", "query", "q", "cycler", "joiner", "namespace", "self", "caller"})
SAFE_METHODS = frozenset({"get", "keys", "values", "items", "split", "startswith", "endswith", "lower",
                          "upper", "strip", "lstrip", "rstrip", "replace", "join", "count", "index"})
SAFE_CALLS = frozenset({"dict"})  # range(10**9) would fill the controller's memory


def _jinja_env() -> Any:
    from jinja2 import Environment

    return Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])


_ENV: Any = None


def template_problem(value: str) -> str | None:
    """Why a string an inventory or `-e` holds may not be templated on the controller, or None.

    Allowed: variable references, item/attribute access (no `_` names), pure filters, tests that
    do not look at the controller, `if`/`for`/`set`, literals and operators, and calls of a few
    pure methods (`.get`, `.split`, ...). Refused by name: lookup/query/q, every other call,
    filters outside SAFE_FILTERS, macros, imports, includes, blocks, `#jinja2:` overrides.
    """
    if value.lstrip().startswith("#jinja2:"):
        return "a `#jinja2:` header changes the template syntax; remove it"
    if not any(marker in value for marker in _TEMPLATE_MARKERS):
        return None
    from jinja2 import TemplateSyntaxError, nodes

    global _ENV  # noqa: PLW0603 - one environment for every check
    if _ENV is None:
        _ENV = _jinja_env()
    try:
        tree = _ENV.parse(value)
    except TemplateSyntaxError as exc:
        return f"not a valid Jinja template ({exc.message}); fix the template or quote it as !unsafe"
    allowed = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getitem,
               nodes.Getattr, nodes.Filter, nodes.Test, nodes.Call, nodes.CondExpr, nodes.And, nodes.Or,
               nodes.Not, nodes.Neg, nodes.Pos, nodes.Compare, nodes.Operand, nodes.Concat, nodes.BinExpr,
               nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword, nodes.Slice, nodes.If,
               nodes.For, nodes.Assign, nodes.Break, nodes.Continue)
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, allowed):
            return f"Jinja `{type(node).__name__}` statements are not allowed in inventory values; " \
                   "use plain {{ variable }} references and filters"
        if isinstance(node, nodes.Name) and (node.name in UNSAFE_NAMES
                                               or (node.name.startswith("__") and node.name.endswith("__"))):
            return f"`{node.name}` reaches outside the inventory; inventory values may not use it " \
                   "(put the value itself in the inventory)"
        if isinstance(node, nodes.Pow) or (isinstance(node, nodes.Const) and isinstance(node.value, int)
                                            and not isinstance(node.value, bool) and abs(node.value) > 1_000_000):
            return "powers and numbers above 1,000,000 are not allowed in inventory templates (a template " \
                   "could fill the controller's memory); write the value itself"
        if isinstance(node, nodes.Mul) and any(isinstance(side, (nodes.List, nodes.Tuple))
                                               or (isinstance(side, nodes.Const) and isinstance(side.value, str))
                                               for side in (node.left, node.right)):
            return "repeating a string or list with `*` is not allowed in inventory templates; write the value itself"
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            return f"private attribute `.{node.attr}` is not allowed in inventory values; remove it"
        if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
            return f"filter `{node.name}` is not allowed in inventory values (only pure filters such as " \
                   "default, int, join, replace); compute the value outside the inventory"
        if isinstance(node, nodes.Filter) and node.name in _HIGHER_ORDER and node.args:
            problem = _named_function_problem(node)
            if problem:
                return problem
        if isinstance(node, nodes.Test) and node.name in UNSAFE_TESTS:
            return f"test `{node.name}` looks at the controller's files; inventory values may not use it"
        if isinstance(node, nodes.Call):
            problem = _call_problem(node)
            if problem:
                return problem
    return None


# Filters that apply a filter (map) or a test (select, ...) named by their first argument.
_HIGHER_ORDER = {"map": 0, "select": 1, "reject": 1, "selectattr": 2, "rejectattr": 2}


def _named_function_problem(node: Any) -> str | None:
    """map('f') applies filter f, select('t') test t, selectattr('a', 't') test t: check f/t."""
    from jinja2 import nodes

    position = _HIGHER_ORDER[node.name]
    index = 0 if position in (0, 1) else 1
    if index >= len(node.args):
        return None
    arg = node.args[index]
    if not isinstance(arg, nodes.Const) or not isinstance(arg.value, str):
        return f"`{node.name}` needs a literal filter or test name in inventory values"
    if position == 0 and arg.value not in SAFE_FILTERS:
        return f"filter `{arg.value}` (through map) is not allowed in inventory values; use pure filters only"
    if position > 0 and arg.value in UNSAFE_TESTS:
        return f"test `{arg.value}` looks at the controller's files; inventory values may not use it"
    return None


def _call_problem(node: Any) -> str | None:
    from jinja2 import nodes

    func = node.node
    if isinstance(func, nodes.Name):
        if func.name in SAFE_CALLS:
            return None
        return f"call of `{func.name}(...)` is not allowed in inventory values (no lookup/query/pipe or " \
               "other calls reaching outside the inventory); put the value itself in the inventory"
    if isinstance(func, nodes.Getattr) and func.attr in SAFE_METHODS:
        return None
    name = func.attr if isinstance(func, nodes.Getattr) else type(func).__name__
    return f"call of `{name}(...)` is not allowed in inventory values; only .get/.keys/.split-style " \
           "methods may be called"


def iter_strings(value: Any) -> Iterator[str]:
    """Every string inside a value (mapping keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(key)
            yield from iter_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_strings(item)


def value_template_problem(value: Any) -> str | None:
    """The first template problem of any string inside a value (opaque !vault/!unsafe skipped)."""
    for text in iter_strings(value):
        if isinstance(text, Opaque):
            continue
        problem = template_problem(text)
        if problem:
            return problem
    return None


# --------------------------------------------------------------------------- names
_HOST_NAME = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9_.:-]{0,252}")
_GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
_DNS_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_RFC1123_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def shown(value: Any) -> str:
    """A value as a message may echo it: one line, at most MAX_SHOWN characters."""
    text = repr(value) if not isinstance(value, str) else value
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def host_name_problem(name: str) -> str | None:
    """A host name is a file name in render's output, the doctor's bundle and host_vars/."""
    if not isinstance(name, str) or not _HOST_NAME.fullmatch(name) or ".." in name:
        return f"host name `{shown(name)}` is not a plain name (letters, digits, `.`, `-`, `_`, `:`; no `/`, " \
               "`..` or spaces); rename the host and put its address in ansible_host"
    return None


def group_name_problem(name: str) -> str | None:
    """A group name is a file name under group_vars/."""
    if not isinstance(name, str) or not _GROUP_NAME.fullmatch(name) or ".." in name:
        return f"group name `{shown(name)}` is not a plain name (letters, digits, `_`, `-`, `.`; no `/`, `..` " \
               "or spaces); rename the group"
    return None


def address_problem(value: Any) -> str | None:
    """ansible_host: an IP address or a DNS name (never an ssh option such as -oProxyCommand=...)."""
    if not isinstance(value, str):
        return f"`{shown(value)}` is a {type(value).__name__}, not an address; quote an IP address or DNS name"
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    name = text[:-1] if text.endswith(".") else text
    if 0 < len(name) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return f"`{shown(value)}` is neither an IP address nor a DNS name; set the host's address (e.g. 192.0.2.10 " \
           "or node1.example.com)"


def node_name_problem(value: Any) -> str | None:
    """A Kubernetes node name: an RFC 1123 subdomain (lower case, digits, `-`, `.`; <= 253)."""
    if not isinstance(value, str) or len(value) > 253 or not value \
            or not all(_RFC1123_LABEL.fullmatch(label) for label in value.split(".")):
        return f"`{shown(value)}` is not a valid Kubernetes node name (RFC 1123: lower-case letters, digits, " \
               "`-` and `.`, starting and ending with a letter or digit); set k3s_node_name to such a name"
    return None


# --------------------------------------------------------------------------- line-based files
# What a value may hold where it lands in a line of a generated file. `word`: one token of a
# systemd unit line, an environment file or an apt/dnf source (paths, modes, names); `url`: a
# repository URL in an apt source line or a dnf .repo file.
_LINE_SYNTAX = {
    "word": re.compile(r"[A-Za-z0-9._/+:@,=~-]+"),
    "url": re.compile(r"[A-Za-z0-9._/+:@,=~%?&!*-]+"),
}
# Variable -> (file it lands in, syntax).
LINE_VALUES: dict[str, tuple[str, str]] = {
    "nvidia_cdi_output": ("the nvidia-cdi-refresh environment file", "word"),
    "nvidia_cdi_format": ("the nvidia-cdi-refresh environment file", "word"),
    "nvidia_cdi_mode": ("the nvidia-cdi-refresh environment file", "word"),
    "nvidia_cdi_dev_root": ("the nvidia-cdi-refresh environment file", "word"),
    "openshell_device_id_strategy": ("the nvidia-cdi-refresh environment file", "word"),
    "openshell_driver_root": ("the nvidia-cdi-refresh environment file", "word"),
    "openshell_cdi_hook_path": ("the nvidia-cdi-refresh environment file", "word"),
    "nvidia_cdi_refresh_env_file": ("a systemd unit", "word"),
    "k3s_install_dir": ("the k3s systemd unit", "word"),
    "k3s_config_dir": ("the k3s systemd unit", "word"),
    "k3s_data_dir": ("the k3s reset commands", "word"),
    "nvidia_container_toolkit_apt_keyring": ("the apt source line", "word"),
    "nvidia_container_toolkit_repo_base_url": ("the apt source line / dnf repo file", "url"),
    "nvidia_container_toolkit_gpg_key_url": ("the dnf repo file", "url"),
    "nvidia_container_toolkit_http_proxy": ("the dnf repo file", "url"),
    "nvidia_container_toolkit_https_proxy": ("the dnf repo file", "url"),
}


def line_value_problem(name: str, value: Any) -> str | None:
    """Why a value cannot be written into the line-based file LINE_VALUES names, or None."""
    if name not in LINE_VALUES or not isinstance(value, str) or value == "":
        return None
    where, syntax = LINE_VALUES[name]
    if _LINE_SYNTAX[syntax].fullmatch(value):
        return None
    bad = sorted({c for c in value if not _LINE_SYNTAX[syntax].fullmatch(c)})
    names = ", ".join(shown(c) if c.isprintable() and c != " " else repr(c) for c in bad[:5])
    return f"`{shown(value)}` holds {names}, which {where} cannot take in this value (a newline or space would " \
           "add a line or an option); use a value without them"


# --------------------------------------------------------------------------- removals
SYSTEM_DIRS = frozenset("""
    / /bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /media /mnt /opt /proc /root /run /sbin /srv
    /sys /tmp /usr /usr/bin /usr/lib /usr/lib64 /usr/libexec /usr/local /usr/local/bin /usr/local/lib
    /usr/local/sbin /usr/sbin /usr/share /usr/include /var /var/lib /var/log /var/run /var/tmp /var/cache
    /var/spool /var/mail /var/opt /var/lib/rancher /etc/rancher /etc/systemd /etc/systemd/system
    /var/lib/kubelet /run/k3s
    """.split())
# Paths `reset` removes (the variable, and whether the path itself is removed).
REMOVED_PATHS = ("k3s_data_dir", "k3s_config_dir", "nvidia_device_plugin_manifest_file",
                 # reset --gpu-layer (roles/nvidia_cdi and nvidia_container_toolkit tasks/reset_paths.yml)
                 "nvidia_cdi_output", "nvidia_cdi_refresh_env_file", "nvidia_container_toolkit_apt_keyring",
                 "nvidia_container_toolkit_apt_source_file")
# Paths whose directory reset --gpu-layer removes as a whole.
REMOVED_DIR_OF = ("nvidia_cdi_state_file",)
# Paths reset removes a file in (the directory itself stays): absolute and normalised only.
REMOVED_IN = ("k3s_install_dir",)


def removable_path_problem(value: Any, *, contents_only: bool = False) -> str | None:
    """Why reset must not remove this path (or, contents_only, a file in it), or None.

    Absolute, normalised (no `.`/`..`/`//`/trailing `/`), plain characters, and unless
    contents_only not a system directory such as /, /etc, /usr, /var or /home.
    """
    if not isinstance(value, str) or not value:
        return f"`{shown(value)}` is not a path; set an absolute path such as /var/lib/rancher/k3s"
    if not value.startswith("/"):
        return f"`{shown(value)}` is not absolute; set an absolute path such as /var/lib/rancher/k3s"
    if posixpath.normpath(value) != value or value.startswith("//"):
        return f"`{shown(value)}` is not normalised (no `.`, `..`, `//` or trailing `/`); set " \
               f"{shown(posixpath.normpath(value))} if that is meant"
    if not _LINE_SYNTAX["word"].fullmatch(value):
        return line_value_problem("k3s_data_dir", value)
    if not contents_only and value in SYSTEM_DIRS:
        return f"`{value}` is a system directory that reset would delete; use a directory of k3s's own " \
               "(e.g. /var/lib/rancher/k3s)"
    return None


def inside(base: Path, target: Path) -> bool:
    """True when target, resolved (symlinks followed), lies inside base resolved."""
    try:
        target.resolve().relative_to(base.resolve())
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- the inventory
def check_names(hosts: Iterable[tuple[str, str]], groups: Iterable[tuple[str, str]]) -> list[str]:
    """(where, name) pairs of hosts and groups -> one message per bad name."""
    errors = [f"{where}: host {shown(name)}: field name: {problem}" for where, name in hosts
              if (problem := host_name_problem(name))]
    errors += [f"{where}: group {shown(name)}: field name: {problem}" for where, name in groups
               if (problem := group_name_problem(name))]
    return errors


def check_block(block: VarBlock) -> list[str]:
    """Template, line-file and removal rules for the literal values of one variable block."""
    owner = "extra vars" if block.owner_kind == "extra vars" else f"{block.owner_kind} {block.owner}"
    errors: list[str] = []
    for name, value in block.values.items():
        where = block.where(name)
        problem = value_template_problem({name: value})
        if problem:
            errors.append(f"{where}: {owner}: field {shown(name)}: {problem}")
            continue
        if name == "ansible_port" and not isinstance(value, str):
            problem = strict_type_problem(name, {"type": "int", "default": 22}, value)
            if problem:
                errors.append(f"{where}: {owner}: field ansible_port: {problem}")
            continue
        if isinstance(value, Opaque) or not isinstance(value, str) or any(m in value for m in _TEMPLATE_MARKERS):
            if name == "ansible_host" and not isinstance(value, str):
                errors.append(f"{where}: {owner}: field ansible_host: {address_problem(value)}")
            continue
        problem = line_value_problem(name, value)
        if problem is None and value.startswith("/") and ".." in value.split("/"):
            problem = f"`{shown(value)}` climbs out of its directory with `..`; set the absolute path without `..`"
        if problem is None and name in REMOVED_PATHS:
            problem = removable_path_problem(value)
        if problem is None and name in REMOVED_DIR_OF:
            problem = removable_path_problem(posixpath.dirname(value))
            problem = problem and f"reset --gpu-layer removes its directory: {problem}"
        if problem is None and name in REMOVED_IN:
            problem = removable_path_problem(value, contents_only=True)
        if problem is None and name == "ansible_host":
            problem = address_problem(value)
        if problem is None and name == "k3s_node_name":
            problem = node_name_problem(value)
        if problem is None and name in ABSOLUTE_PATHS and not value.startswith("/"):
            problem = f"`{shown(value)}` is not an absolute path; start it with /"

        if problem:
            errors.append(f"{where}: {owner}: field {name}: {problem}")
    return errors


def check_inventory(inventory: Inventory, blocks: Iterable[VarBlock]) -> list[str]:
    """Every rule of this module over an inventory's blocks, plus node names of hosts that use
    the default k3s_node_name (the host name)."""
    errors: list[str] = []
    for block in blocks:
        errors.extend(check_block(block))
    if "k3s_node_name" in inventory.extra_vars \
            or any("k3s_node_name" in b.values for g in inventory.groups.values() for b in g.var_blocks):
        return errors  # a group sets the node names (checked above when literal)
    for host in inventory.host_order:
        if any("k3s_node_name" in b.values for b in inventory.host_blocks.get(host, [])):
            continue
        problem = node_name_problem(host)
        if problem:
            line = inventory.host_lines.get(host)
            where = f"{inventory.path}:{line}" if line else str(inventory.path)
            errors.append(f"{where}: host {shown(host)}: field k3s_node_name: the host name is the node name "
                          f"by default and {problem}")
    return errors


# --------------------------------------------------------------------------- values argument_specs let through
# Whole numbers with a range (argument_specs has no bounds): (minimum, maximum).
INT_RANGES: dict[str, tuple[int, int]] = {
    "ansible_port": (1, 65535),
    "k3s_api_port": (1, 65535),
    "k3s_ready_retries": (1, 100_000),
    "k3s_ready_delay": (0, 3600),
    "nvidia_device_plugin_wait_retries": (1, 100_000),
    "nvidia_device_plugin_wait_delay": (0, 3600),
    "gpu_sandbox_max_gpus": (0, 1024),
    "gpu_sandbox_ready_timeout": (0, 86_400),
    "openshell_verify_smoke_gpus": (1, 1024),
    "openshell_verify_smoke_timeout": (1, 86_400),
    "openshell_doctor_log_lines": (0, 100_000),
}
# Paths on the hosts that must be absolute (a relative one lands wherever the module runs).
ABSOLUTE_PATHS = ("nvidia_cdi_output", "nvidia_cdi_refresh_env_file", "nvidia_cdi_state_file", "nvidia_cdi_ctk",
                  "nvidia_container_toolkit_apt_keyring", "nvidia_container_toolkit_apt_source_file",
                  "nvidia_device_plugin_manifest_dir", "nvidia_device_plugin_static_dir",
                  "nvidia_device_plugin_images_dir", "openshell_cdi_hook_path", "openshell_driver_root",
                  "k3s_install_dir", "k3s_config_dir", "k3s_data_dir")


def strict_type_problem(name: str, spec: Mapping[str, Any], value: Any) -> str | None:
    """What Ansible's argument_spec would convert silently: "k=v" into a mapping, "a,b" into a
    list, true into 1, 1.35 into "1.35". Refused, so the inventory means what it says."""
    kind = str(spec.get("type", "str"))
    if kind in ("dict", "list") and isinstance(value, str):
        example = "`key: value` lines under it" if kind == "dict" else "a YAML list (`- item` lines or [a, b])"
        return f"`{shown(value)}` is a string where a {'mapping' if kind == 'dict' else 'list'} is expected; " \
               f"write {example}"
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"`{shown(value)}` is not a whole number; write a number without quotes, e.g. {spec.get('default', 1)}"
    if kind in ("str", "path") and isinstance(value, (bool, int, float)):
        return f"`{shown(value)}` is a {type(value).__name__}, not a string; quote it (\"{value}\")"
    if kind == "int" and name in INT_RANGES:
        low, high = INT_RANGES[name]
        if not low <= value <= high:
            return f"{value} is out of range; use a whole number from {low} to {high}"
    return None
