"""OpenShell-style sandbox Pods: one model, strict validation, one renderer.

The CLI (`openshell-auto sandbox render`), the `gpu_sandbox` role (through its filter plugin)
and the verify smoke pod all render through `render_pod`, so there is exactly one template.

Manifests are built as Python dicts and serialised with `yaml.safe_dump` / `json.dumps`:
a value containing newlines, colons, quotes or braces stays a string, never structure.

Shape (as OpenShell's GPU sandbox pod): labels `openshell.ai/sandbox-id=<id>` and
`openshell.ai/managed-by=openshell`, one container named `agent`, the GPU count as a string
quantity in `resources.limits["nvidia.com/gpu"]`, no `runtimeClassName` unless one is set
explicitly (CDI mode needs none), no NVIDIA_* environment variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import GPU_RESOURCE
LABEL_SANDBOX_ID = "openshell.ai/sandbox-id"
LABEL_MANAGED_BY = "openshell.ai/managed-by"
MANAGED_BY = "openshell"
CONTAINER_NAME = "agent"
DEFAULT_NAMESPACE = "default"
DEFAULT_MAX_GPUS = 8

# --- Kubernetes name rules (k8s.io/apimachinery/pkg/util/validation) -------------------------
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# IsEnvVarName: the rule every Kubernetes version accepts (1.30+ may relax it behind a gate).
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

# --- Image references: the grammar of github.com/distribution/reference (reference.go) -------
#   reference        := name [ ":" tag ] [ "@" digest ]
#   name             := [domain '/'] remote-name
#   domain           := host [ ":" port-number ]
#   host             := domain-name | IPv4address | "[" IPv6address "]"
#   domain-name      := domain-component ['.' domain-component]*
#   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
#   remote-name      := path-component ['/' path-component]*
#   path-component   := alpha-numeric [separator alpha-numeric]*
#   alpha-numeric    := /[a-z0-9]+/
#   separator        := /[_.]|__|[-]+/
#   tag              := /[\w][\w.-]{0,127}/
#   digest           := algorithm ":" encoded
#   algorithm        := component [separator component]*  (component /[A-Za-z][A-Za-z0-9]*/,
#                       separator /[+.-_]/), encoded /[a-fA-F0-9]{32,}/
# The name part (domain + path) is at most 255 characters (NameTotalLengthMax).
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
_IMAGE_NAME_MAX = 255

TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
RESTART_POLICIES = ("Always", "OnFailure", "Never")

SANDBOX_FIELDS = (
    "name",
    "id",
    "namespace",
    "image",
    "command",
    "args",
    "env",
    "gpus",
    "runtime_class",
    "node_selector",
    "tolerations",
    "labels",
    "restart_policy",
)


class SandboxError(ValueError):
    """Bad sandbox input. `problems` lists (field, message); str() names every field + fix."""

    def __init__(self, problems: Sequence[tuple[str, str]], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        lines = [f"{where}{fld}: {msg}" for fld, msg in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None

    def to_k8s(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.key:
            out["key"] = self.key
        out["operator"] = self.operator
        if self.value:
            out["value"] = self.value
        if self.effect:
            out["effect"] = self.effect
        if self.toleration_seconds is not None:
            out["tolerationSeconds"] = self.toleration_seconds
        return out


@dataclass(frozen=True)
class Sandbox:
    """A validated sandbox. Build it with `parse_sandbox` (validation) rather than directly."""

    name: str
    image: str
    namespace: str = DEFAULT_NAMESPACE
    sandbox_id: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    gpus: int = 0
    runtime_class: str | None = None
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    restart_policy: str | None = None

    @property
    def id(self) -> str:
        return self.sandbox_id or self.name


# ---------------------------------------------------------------------------------------------
# Field checks. Each returns a message (str) when the value is bad, else None.


def dns1123_label_problem(value: str) -> str | None:
    if len(value) > 63:
        return f"{value[:20]!r}... is {len(value)} characters; at most 63 are allowed (RFC 1123 label)"
    if not _DNS1123_LABEL.match(value):
        return (
            f"{value!r} is not an RFC 1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'my-sandbox')"
        )
    return None


def dns1123_subdomain_problem(value: str) -> str | None:
    if len(value) > 253:
        return f"{value[:20]!r}... is {len(value)} characters; at most 253 are allowed (RFC 1123 subdomain)"
    if not _DNS1123_SUBDOMAIN.match(value):
        return (
            f"{value!r} is not an RFC 1123 subdomain: use lower-case letters, digits, '-' and '.', "
            "each part starting and ending with a letter or digit (e.g. 'nvidia')"
        )
    return None


def label_key_problem(key: str) -> str | None:
    if not key:
        return "label key is empty; use 'name' or 'prefix/name'"
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return f"label key {key!r} has an empty prefix before '/'"
    if prefix:
        msg = dns1123_subdomain_problem(prefix)
        if msg:
            return f"label key prefix {prefix!r} is invalid: {msg}"
    if len(name) > 63:
        return f"label key name {name[:20]!r}... is {len(name)} characters; at most 63 are allowed"
    if not _QUALIFIED_NAME.match(name):
        return (
            f"label key name {name!r} is invalid: use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return f"label value {value[:20]!r}... is {len(value)} characters; at most 63 are allowed"
    if not _LABEL_VALUE.match(value):
        return (
            f"label value {value!r} is invalid: use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit (or leave it empty)"
        )
    return None


def image_problem(value: str) -> str | None:
    if not value:
        return "image is empty; give a reference such as 'nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04'"
    m = _REFERENCE.match(value)
    if not m:
        return (
            f"{value!r} is not a valid image reference ([registry[:port]/]path[:tag][@digest]; "
            "path components lower-case; tag up to 128 of [A-Za-z0-9_.-]; digest algo:hex)"
        )
    if len(m.group("name")) > _IMAGE_NAME_MAX:
        return f"image name is {len(m.group('name'))} characters; at most {_IMAGE_NAME_MAX} are allowed"
    return None


def env_name_problem(name: str) -> str | None:
    if not _ENV_NAME.match(name):
        return (
            f"environment variable name {name!r} is invalid: use letters, digits, '_', '-' and '.', "
            "not starting with a digit (e.g. 'MY_VAR')"
        )
    if name.upper().startswith("NVIDIA_"):
        return (
            f"environment variable {name!r} is not allowed: in CDI mode the device plugin hands the GPU "
            "to the runtime; NVIDIA_* variables (e.g. NVIDIA_VISIBLE_DEVICES) would bypass or break that. "
            "Use 'gpus' instead"
        )
    return None


# ---------------------------------------------------------------------------------------------
# Parsing raw input (CLI flags, YAML file, inventory variable) into a Sandbox.


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _string_list(raw: Any, fld: str, problems: list[tuple[str, str]]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        problems.append((fld, f"must be a list of strings (exec form, e.g. ['sh', '-c', '...']); got {type(raw).__name__}"))
        return ()
    out: list[str] = []
    for i, item in enumerate(raw):
        if not _is_str(item):
            problems.append((f"{fld}[{i}]", f"must be a string; got {type(item).__name__} {item!r} (quote it in YAML)"))
        else:
            out.append(item)
    return tuple(out)


def _string_map(
    raw: Any, fld: str, problems: list[tuple[str, str]], *, what: str
) -> list[tuple[str, str]]:
    """Accept a mapping or a list of 'KEY=VALUE' strings; values must be strings."""
    if raw is None:
        return []
    pairs: list[tuple[str, Any]] = []
    if isinstance(raw, Mapping):
        pairs = [(k, v) for k, v in raw.items()]
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        for i, item in enumerate(raw):
            if not _is_str(item) or "=" not in item:
                problems.append((f"{fld}[{i}]", f"must be a 'KEY=VALUE' string; got {item!r}"))
                continue
            k, _, v = item.partition("=")
            pairs.append((k, v))
    else:
        problems.append((fld, f"must be a mapping of {what} (KEY: VALUE) or a list of 'KEY=VALUE'; got {type(raw).__name__}"))
        return []
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for k, v in pairs:
        if not _is_str(k):
            problems.append((fld, f"{what} name {k!r} must be a string"))
            continue
        if not _is_str(v):
            problems.append(
                (f"{fld}.{k}", f"value must be a string; got {type(v).__name__} {v!r} (quote it in YAML, e.g. \"{v}\")")
            )
            continue
        if k in seen:
            problems.append((f"{fld}.{k}", f"{what} {k!r} is given twice"))
            continue
        seen.add(k)
        out.append((k, v))
    return out


def _parse_tolerations(raw: Any, problems: list[tuple[str, str]]) -> tuple[Toleration, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        problems.append(("tolerations", f"must be a list of mappings; got {type(raw).__name__}"))
        return ()
    allowed = {"key", "operator", "value", "effect", "toleration_seconds", "tolerationSeconds"}
    out: list[Toleration] = []
    for i, item in enumerate(raw):
        fld = f"tolerations[{i}]"
        if not isinstance(item, Mapping):
            problems.append((fld, f"must be a mapping with key/operator/value/effect; got {item!r}"))
            continue
        unknown = sorted(set(map(str, item)) - allowed)
        if unknown:
            problems.append((fld, f"unknown field(s) {', '.join(unknown)}; allowed: key, operator, value, effect, toleration_seconds"))
            continue
        key = item.get("key", "") or ""
        operator = item.get("operator", "Equal")
        value = item.get("value", "") or ""
        effect = item.get("effect", "") or ""
        seconds = item.get("toleration_seconds", item.get("tolerationSeconds"))
        bad = False
        for sub, v in (("key", key), ("operator", operator), ("value", value), ("effect", effect)):
            if not _is_str(v):
                problems.append((f"{fld}.{sub}", f"must be a string; got {v!r}"))
                bad = True
        if bad:
            continue
        if key:
            msg = label_key_problem(key)
            if msg:
                problems.append((f"{fld}.key", msg))
        if operator not in TOLERATION_OPERATORS:
            problems.append((f"{fld}.operator", f"{operator!r} is not one of {', '.join(TOLERATION_OPERATORS)}"))
        elif operator == "Exists" and value:
            problems.append((f"{fld}.value", "must be empty when operator is Exists"))
        elif operator == "Equal" and not key:
            problems.append((f"{fld}.key", "is required when operator is Equal (or use operator: Exists)"))
        if value:
            msg = label_value_problem(value)
            if msg:
                problems.append((f"{fld}.value", msg))
        if effect not in TOLERATION_EFFECTS:
            problems.append((f"{fld}.effect", f"{effect!r} is not one of NoSchedule, PreferNoSchedule, NoExecute"))
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                problems.append((f"{fld}.toleration_seconds", f"must be an integer; got {seconds!r}"))
            elif effect != "NoExecute":
                problems.append((f"{fld}.toleration_seconds", "is only allowed with effect NoExecute"))
        out.append(Toleration(key, operator, value, effect, seconds if isinstance(seconds, int) else None))
    return tuple(out)


def parse_sandbox(
    raw: Mapping[str, Any], *, max_gpus: int = DEFAULT_MAX_GPUS, source: str = ""
) -> Sandbox:
    """Validate one sandbox given as a mapping; raise SandboxError listing every bad field."""
    problems: list[tuple[str, str]] = []
    if not isinstance(raw, Mapping):
        raise SandboxError([("sandbox", f"must be a mapping with at least name and image; got {type(raw).__name__}")], source)

    unknown = sorted(str(k) for k in raw if k not in SANDBOX_FIELDS)
    if unknown:
        problems.append(("sandbox", f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(SANDBOX_FIELDS)}"))

    name = raw.get("name")
    if name is None or name == "":
        problems.append(("name", "is required (an RFC 1123 label such as 'my-sandbox')"))
        name = ""
    elif not _is_str(name):
        problems.append(("name", f"must be a string; got {type(name).__name__} {name!r}"))
        name = ""
    else:
        msg = dns1123_label_problem(name)
        if msg:
            problems.append(("name", msg))

    sandbox_id = raw.get("id", "") or ""
    if not _is_str(sandbox_id):
        problems.append(("id", f"must be a string; got {sandbox_id!r}"))
        sandbox_id = ""
    elif sandbox_id:
        msg = label_value_problem(sandbox_id)
        if msg:
            problems.append(("id", msg))

    namespace = raw.get("namespace", DEFAULT_NAMESPACE)
    if namespace is None or namespace == "":
        namespace = DEFAULT_NAMESPACE
    if not _is_str(namespace):
        problems.append(("namespace", f"must be a string; got {namespace!r}"))
        namespace = DEFAULT_NAMESPACE
    else:
        msg = dns1123_label_problem(namespace)
        if msg:
            problems.append(("namespace", msg))

    image = raw.get("image")
    if image is None:
        problems.append(("image", "is required (e.g. 'nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04')"))
        image = ""
    elif not _is_str(image):
        problems.append(("image", f"must be a string; got {image!r}"))
        image = ""
    else:
        msg = image_problem(image)
        if msg:
            problems.append(("image", msg))

    command = _string_list(raw.get("command"), "command", problems)
    args = _string_list(raw.get("args"), "args", problems)

    env = _string_map(raw.get("env"), "env", problems, what="environment variable")
    for k, _v in env:
        msg = env_name_problem(k)
        if msg:
            problems.append((f"env.{k}", msg))

    gpus_raw = raw.get("gpus", 0)
    gpus = 0
    if gpus_raw is None:
        gpus_raw = 0
    if isinstance(gpus_raw, bool) or not isinstance(gpus_raw, int):
        if isinstance(gpus_raw, str) and gpus_raw.strip().isdigit():
            gpus = int(gpus_raw.strip())
        else:
            problems.append(("gpus", f"must be a whole number of GPUs (0 for a CPU sandbox); got {gpus_raw!r}"))
    else:
        gpus = gpus_raw
    if gpus < 0:
        problems.append(("gpus", f"must not be negative; got {gpus} (0 means a CPU sandbox)"))
    elif gpus > max_gpus:
        problems.append(
            ("gpus", f"{gpus} is more than the allowed maximum {max_gpus}; lower it or raise the maximum (--max-gpus / gpu_sandbox_max_gpus)")
        )

    runtime_class = raw.get("runtime_class")
    if runtime_class == "":
        runtime_class = None
    if runtime_class is not None:
        if not _is_str(runtime_class):
            problems.append(("runtime_class", f"must be a string; got {runtime_class!r}"))
            runtime_class = None
        else:
            msg = dns1123_subdomain_problem(runtime_class)
            if msg:
                problems.append(("runtime_class", msg))

    node_selector = _string_map(raw.get("node_selector"), "node_selector", problems, what="node label")
    for k, v in node_selector:
        for msg in (label_key_problem(k), label_value_problem(v)):
            if msg:
                problems.append((f"node_selector.{k}", msg))

    labels = _string_map(raw.get("labels"), "labels", problems, what="label")
    for k, v in labels:
        if k in (LABEL_SANDBOX_ID, LABEL_MANAGED_BY):
            problems.append((f"labels.{k}", "is set by openshell-auto and cannot be overridden (use 'id' for the sandbox id)"))
            continue
        for msg in (label_key_problem(k), label_value_problem(v)):
            if msg:
                problems.append((f"labels.{k}", msg))

    tolerations = _parse_tolerations(raw.get("tolerations"), problems)

    restart_policy = raw.get("restart_policy")
    if restart_policy is not None and restart_policy not in RESTART_POLICIES:
        problems.append(("restart_policy", f"{restart_policy!r} is not one of {', '.join(RESTART_POLICIES)}"))
        restart_policy = None

    if name and not sandbox_id and not any(f == "name" for f, _ in problems):
        # The name doubles as the sandbox-id label value (63 characters, label syntax).
        msg = label_value_problem(name)
        if msg:
            problems.append(("name", msg))

    if problems:
        raise SandboxError(problems, source)
    return Sandbox(
        name=name,
        image=image,
        namespace=namespace,
        sandbox_id=sandbox_id,
        command=command,
        args=args,
        env=tuple(env),
        gpus=gpus,
        runtime_class=runtime_class,
        node_selector=tuple(node_selector),
        tolerations=tolerations,
        labels=tuple(labels),
        restart_policy=restart_policy,
    )


def parse_sandboxes(
    raw: Any, *, max_gpus: int = DEFAULT_MAX_GPUS, source: str = ""
) -> list[Sandbox]:
    """Validate a list of sandboxes (or a mapping holding one under `sandboxes` or
    `gpu_sandbox_sandboxes`); every item is checked, and (namespace, name) must be unique."""
    if isinstance(raw, Mapping):
        keys = [k for k in ("gpu_sandbox_sandboxes", "sandboxes") if k in raw]
        if not keys:
            raise SandboxError(
                [("sandboxes", "expected a list of sandboxes, or a mapping with key 'sandboxes' or 'gpu_sandbox_sandboxes'")],
                source,
            )
        raw = raw[keys[0]]
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise SandboxError([("sandboxes", f"must be a list of sandbox mappings; got {type(raw).__name__}")], source)
    problems: list[tuple[str, str]] = []
    out: list[Sandbox] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(raw):
        try:
            sb = parse_sandbox(item, max_gpus=max_gpus)
        except SandboxError as exc:
            label = f"sandboxes[{i}]"
            if isinstance(item, Mapping) and _is_str(item.get("name")):
                label += f" ({item['name']})"
            problems.extend((f"{label}.{fld}", msg) for fld, msg in exc.problems)
            continue
        key = (sb.namespace, sb.name)
        if key in seen:
            problems.append(
                (f"sandboxes[{i}].name", f"{sb.namespace}/{sb.name} is already defined by sandboxes[{seen[key]}]; names must be unique per namespace")
            )
            continue
        seen[key] = i
        out.append(sb)
    if problems:
        raise SandboxError(problems, source)
    return out


# ---------------------------------------------------------------------------------------------
# Rendering.


def render_pod(sb: Sandbox) -> dict[str, Any]:
    """The Pod manifest (a plain dict) for one validated sandbox."""
    labels: dict[str, str] = dict(sb.labels)
    labels[LABEL_SANDBOX_ID] = sb.id
    labels[LABEL_MANAGED_BY] = MANAGED_BY
    container: dict[str, Any] = {"name": CONTAINER_NAME, "image": sb.image}
    if sb.command:
        container["command"] = list(sb.command)
    if sb.args:
        container["args"] = list(sb.args)
    if sb.env:
        container["env"] = [{"name": k, "value": v} for k, v in sb.env]
    if sb.gpus > 0:
        container["resources"] = {"limits": {GPU_RESOURCE: str(sb.gpus)}}
    spec: dict[str, Any] = {}
    if sb.runtime_class:
        spec["runtimeClassName"] = sb.runtime_class
    if sb.restart_policy:
        spec["restartPolicy"] = sb.restart_policy
    if sb.node_selector:
        spec["nodeSelector"] = dict(sb.node_selector)
    if sb.tolerations:
        spec["tolerations"] = [t.to_k8s() for t in sb.tolerations]
    spec["containers"] = [container]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": sb.name, "namespace": sb.namespace, "labels": labels},
        "spec": spec,
    }


def render_pods(sandboxes: Iterable[Sandbox]) -> list[dict[str, Any]]:
    return [render_pod(sb) for sb in sandboxes]


def to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML (safe_dump: every string value stays a scalar)."""
    return yaml.safe_dump_all(list(manifests), sort_keys=False, default_flow_style=False, explicit_start=True)


def to_json(manifests: Sequence[Mapping[str, Any]]) -> str:
    """JSON that `kubectl apply -f -` takes: one Pod as an object, several as a `v1` List
    (kubectl refuses a bare JSON array: "cannot unmarshal array")."""
    if len(manifests) == 1:
        return json.dumps(manifests[0], indent=2) + "\n"
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)}, indent=2) + "\n"


def smoke_pod(
    name: str = "openshell-gpu-smoke",
    namespace: str = DEFAULT_NAMESPACE,
    image: str | None = None,
    gpus: int = 1,
) -> dict[str, Any]:
    """The verify smoke pod: runs `nvidia-smi -L` once with one GPU and no runtimeClassName.

    nvidia-smi and the driver libraries come from the host through the CDI spec, so a plain
    base image works. Without `image`: role openshell_verify's default (one place for it)."""
    if image is None:
        from openshell_auto.specs import load_specs

        image = str(load_specs().defaults["openshell_verify_smoke_image"])
    sb = parse_sandbox(
        {
            "name": name,
            "namespace": namespace,
            "image": image,
            "command": ["nvidia-smi", "-L"],
            "gpus": gpus,
            "restart_policy": "Never",
            "labels": {"app.kubernetes.io/name": "openshell-gpu-smoke"},
        },
        max_gpus=max(gpus, DEFAULT_MAX_GPUS),
    )
    return render_pod(sb)
