"""The doctor: plain-words findings from material gathered by playbooks/doctor.yml.

Everything here is pure: it reads the per-host material the `openshell_doctor` role writes
(one JSON file per host, see `HostMaterial` below) and returns findings. Tests feed it recorded
command output (tests/data/doctor/).

Material of one host (keys always present; values may be None/empty when not gathered)::

    {"host": "gpu1", "server": bool, "gpu": bool, "first_server": bool,
     "device_id_strategy": "index",
     "device_plugin": {"namespace": str, "helmchart": str, ...},  # as configured (role defaults)
     "commands": {"<key>": {"cmd": [...], "rc": int, "stdout": str, "stderr": str}},
     "packages": {"<name>": ["<version>", ...]},          # nvidia*/libnvidia* packages only
     "cdi_specs": [{"path": str, "content": str}],        # /etc/cdi, /var/run/cdi
     "dev_nodes": ["/dev/nvidia0", ...],
     "containerd": {"path": str, "exists": bool, "runtimes": {...}, "nvidia": bool, "lines": [...]},
     "cluster": None | {"commands": {...}, "nodes": [...], "daemonsets": [...], "pods": [...],
                        "helmcharts": [...]}}             # first server only

Secrets never enter the material: no token, no kubeconfig, the containerd config is reduced to
its runtime handlers, node/pod objects are reduced to the fields the checks need.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi, containerd, device_plugin
from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import GPU_RESOURCE, QuantityError, parse_quantity

TOOLKIT_BASE = "nvidia-container-toolkit-base"
LEGACY_PACKAGES = ("nvidia-container-toolkit", "libnvidia-container-tools", "libnvidia-container1")
PLUGIN_LABEL = device_plugin.PLUGIN_LABEL
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
PLUGIN_CDI_KIND = "k8s.device-plugin.nvidia.com/gpu"
HOST_CDI_KIND = "nvidia.com/gpu"
GPU_NODE_LABEL = ("nvidia.com/gpu.present", "true")
REFRESH_PATH = "nvidia-cdi-refresh.path"
REFRESH_SERVICE = "nvidia-cdi-refresh.service"
CONTAINERD_CONFIG = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
GENERATE_HINT = (
    "run `nvidia-ctk cdi generate --output /var/run/cdi/nvidia.yaml --device-name-strategy {strategy}` "
    f"or `systemctl restart {REFRESH_SERVICE}`"
)
_UUID_NAME = re.compile(r"^(GPU|MIG)-[0-9a-fA-F-]+$")
_INDEX_NAME = re.compile(r"^[0-9]+(:[0-9]+)?$")
MAX_OUTPUT = 20000  # characters of one command's output kept in the material

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    host: str  # inventory host, or "cluster"
    check: str  # short id, e.g. "cdi-spec"
    message: str  # what is wrong, in plain words, with the next step

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# ============================================================================ reducers (filters)
def command_results(results: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Registered loop results of `command` tasks (loop over dict2items) -> {key: result}."""
    out: dict[str, dict[str, Any]] = {}
    for res in results:
        item = res.get("item") or {}
        key = str(item.get("key", "")) if isinstance(item, Mapping) else str(item)
        if not key:
            continue
        if res.get("skipped"):
            out[key] = {"cmd": item.get("value"), "rc": None, "stdout": "", "stderr": "", "skipped": True}
            continue
        stderr = str(res.get("stderr") or "")
        rc = res.get("rc")
        msg = str(res.get("msg") or "")
        stdout = str(res.get("stdout") or "")
        if rc == 2 and "No such file or directory" in msg and "Error executing command" in msg:
            stderr, stdout = f"command not found ({msg})", ""  # the module could not start the binary
        elif rc is None or (rc != 0 and not stderr and not res.get("stdout")):
            stderr = stderr or msg
        argv = item.get("value") if isinstance(item, Mapping) else None
        out[key] = {
            "cmd": list(argv) if isinstance(argv, (list, tuple)) else res.get("cmd"),
            "rc": rc if rc is not None else 127,
            "stdout": _cut(stdout),
            "stderr": _cut(stderr),
        }
    return out


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[-MAX_OUTPUT:]


def _load_json(text: Any) -> Any:
    if isinstance(text, (dict, list)):
        return text
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _items(doc: Any) -> list[Mapping[str, Any]]:
    if isinstance(doc, Mapping):
        items = doc.get("items")
        if isinstance(items, list):
            return [i for i in items if isinstance(i, Mapping)]
        return [doc]
    if isinstance(doc, list):
        return [i for i in doc if isinstance(i, Mapping)]
    return []


def summarize_nodes(text: Any) -> list[dict[str, Any]] | None:
    """`kubectl get nodes -o json` -> name, labels, GPU allocatable/capacity, Ready."""
    doc = _load_json(text)
    if doc is None:
        return None
    out = []
    for node in _items(doc):
        meta = node.get("metadata") or {}
        status = node.get("status") or {}
        ready = next(
            (c.get("status") for c in status.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") == "Ready"),
            None,
        )
        hostname = next(
            (a.get("address") for a in status.get("addresses") or [] if isinstance(a, Mapping) and a.get("type") == "Hostname"),
            None,
        )
        out.append(
            {
                "name": meta.get("name"),
                "hostname": hostname,
                "labels": dict(meta.get("labels") or {}),
                "allocatable_gpu": (status.get("allocatable") or {}).get(GPU_RESOURCE),
                "capacity_gpu": (status.get("capacity") or {}).get(GPU_RESOURCE),
                "ready": ready,
                "has_status": bool(status),
            }
        )
    return out


def summarize_daemonsets(text: Any) -> list[dict[str, Any]] | None:
    """DaemonSet JSON -> name, counts, container env (names and literal values only)."""
    doc = _load_json(text)
    if doc is None:
        return None
    out = []
    for ds in _items(doc):
        meta = ds.get("metadata") or {}
        spec = ds.get("spec") or {}
        pod_spec = ((spec.get("template") or {}).get("spec")) or {}
        env: dict[str, str] = {}
        images = []
        for c in list(pod_spec.get("containers") or []) + list(pod_spec.get("initContainers") or []):
            if not isinstance(c, Mapping):
                continue
            images.append(c.get("image"))
            for e in c.get("env") or []:
                if isinstance(e, Mapping) and "value" in e:
                    env[str(e.get("name"))] = str(e.get("value"))
        status = ds.get("status") or {}
        out.append(
            {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "desired": status.get("desiredNumberScheduled", 0),
                "ready": status.get("numberReady", 0),
                "available": status.get("numberAvailable", 0),
                "runtime_class": pod_spec.get("runtimeClassName"),
                "env": env,
                "images": images,
            }
        )
    return out


def summarize_pods(text: Any) -> list[dict[str, Any]] | None:
    """All pods -> only those asking for GPUs or carrying a runtimeClassName (no env, no args)."""
    doc = _load_json(text)
    if doc is None:
        return None
    out = []
    for pod in _items(doc):
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        gpus = 0
        for c in spec.get("containers") or []:
            if not isinstance(c, Mapping):
                continue
            limits = ((c.get("resources") or {}).get("limits")) or {}
            if GPU_RESOURCE in limits:
                try:
                    gpus += int(parse_quantity(limits[GPU_RESOURCE]))
                except QuantityError:
                    gpus += 0
        rc = spec.get("runtimeClassName")
        if gpus or rc:
            out.append(
                {
                    "namespace": meta.get("namespace"),
                    "name": meta.get("name"),
                    "runtime_class": rc,
                    "gpus": gpus,
                    "node": spec.get("nodeName"),
                    "phase": (pod.get("status") or {}).get("phase"),
                    "labels": dict(meta.get("labels") or {}),
                }
            )
    return out


def summarize_helmcharts(text: Any) -> list[dict[str, Any]] | None:
    """HelmChart JSON -> name, chart, version and the plugin values that matter."""
    doc = _load_json(text)
    if doc is None:
        return None
    out = []
    for hc in _items(doc):
        spec = hc.get("spec") or {}
        try:
            values = yaml.safe_load(spec.get("valuesContent") or "") or {}
        except yaml.YAMLError:
            values = {}
        if not isinstance(values, Mapping):
            values = {}
        out.append(
            {
                "name": (hc.get("metadata") or {}).get("name"),
                "chart": spec.get("chart"),
                "version": spec.get("version"),
                "values": {k: values.get(k) for k in ("deviceListStrategy", "deviceIDStrategy", "runtimeClassName") if k in values},
            }
        )
    return out


def containerd_summary(text: Any, path: str = CONTAINERD_CONFIG) -> dict[str, Any]:
    """k3s's generated containerd config -> runtime handlers (registry auth etc. dropped)."""
    if not isinstance(text, str) or not text:
        return {"path": path, "exists": False, "parsed": False, "runtimes": {}, "nvidia": False, "lines": []}
    runtimes: dict[str, dict[str, Any]] = {}
    parsed = True
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        parsed = False
        data = {}

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k == "runtimes" and isinstance(v, Mapping):
                    for name, conf in v.items():
                        conf = conf if isinstance(conf, Mapping) else {}
                        opts = conf.get("options") if isinstance(conf.get("options"), Mapping) else {}
                        runtimes[str(name)] = {
                            "runtime_type": conf.get("runtime_type"),
                            "binary": opts.get("BinaryName"),
                        }
                else:
                    walk(v)

    walk(data)
    # Only section headers and runtime keys: a value line could be a registry password.
    lines = [
        line.strip()
        for line in text.splitlines()
        if "nvidia" in line.lower() and re.match(r"\s*(\[|BinaryName\s*=|runtime_type\s*=)", line)
    ][:20]
    nvidia = "nvidia" in runtimes if parsed else any(re.search(r'runtimes\.["\']?nvidia["\']?\]', line) for line in lines)
    version = data.get("version") if parsed else None
    return {"path": path, "exists": True, "parsed": parsed, "runtimes": runtimes, "nvidia": nvidia, "lines": lines,
            "version": version, "cdi": containerd.cdi_enabled(data) if parsed else None}



def cdi_spec_files(found: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Registered slurp loop results -> [{path, content}]."""
    import base64

    out = []
    for res in found:
        path = res.get("source") or (res.get("item") or {}).get("path")
        if res.get("failed") or res.get("skipped") or "content" not in res:
            out.append({"path": path, "content": None, "error": str(res.get("msg") or "not readable")})
            continue
        try:
            content = base64.b64decode(res["content"]).decode("utf-8", errors="replace")
        except (ValueError, TypeError):
            content = None
        out.append({"path": path, "content": content})
    return out


CLUSTER_JSON_KEYS = {
    "nodes": summarize_nodes,
    "daemonsets": summarize_daemonsets,
    "pods": summarize_pods,
    "helmcharts": summarize_helmcharts,
}


def cluster_material(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Registered kubectl loop results -> cluster material. The JSON outputs are reduced by
    their summarizer and their raw text is dropped (pod specs can carry secrets in env)."""
    cmds = command_results(results)
    out: dict[str, Any] = {"commands": {}}
    for key, res in cmds.items():
        if key in CLUSTER_JSON_KEYS:
            out[key] = CLUSTER_JSON_KEYS[key](res["stdout"]) if res.get("rc") == 0 else None
            res = {**res, "stdout": f"<{len(res.get('stdout') or '')} characters of JSON, reduced to '{key}'>"}
        out["commands"][key] = res
    for key in CLUSTER_JSON_KEYS:
        out.setdefault(key, None)
    return out


def package_versions(packages: Any) -> dict[str, list[str]]:
    """ansible_facts.packages -> {name: [version(-release)]} for nvidia*/libnvidia* packages."""
    out: dict[str, list[str]] = {}
    if not isinstance(packages, Mapping):
        return out
    for name, entries in packages.items():
        if not re.match(r"^(lib)?nvidia", str(name)):
            continue
        versions = []
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, Mapping):
                v = str(e.get("version", ""))
                if e.get("release"):
                    v += f"-{e['release']}"
                versions.append(v)
        out[str(name)] = versions
    return out


# ============================================================================ parsing helpers
def _cmd(material: Mapping[str, Any], key: str, section: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    cmds = (section if section is not None else material).get("commands") or {}
    res = cmds.get(key)
    if not isinstance(res, Mapping) or res.get("skipped"):
        return None
    return dict(res)


def _ok(res: Mapping[str, Any] | None) -> bool:
    return res is not None and res.get("rc") == 0


def _tail(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " | ".join(lines[-n:])


def gpu_count(material: Mapping[str, Any]) -> int | None:
    """GPUs detected on the host: `nvidia-smi -L` lines, else /dev/nvidiaN device nodes."""
    smi = _cmd(material, "nvidia_smi_list")
    if _ok(smi):
        n = sum(1 for line in smi["stdout"].splitlines() if line.startswith("GPU "))  # type: ignore[index]
        if n:
            return n
    devs = [d for d in material.get("dev_nodes") or [] if re.fullmatch(r"/dev/nvidia[0-9]+", str(d))]
    return len(devs) if devs else (0 if material.get("dev_nodes") is not None else None)


def driver_version(material: Mapping[str, Any]) -> str | None:
    smi = _cmd(material, "nvidia_smi_query")
    if _ok(smi):
        for line in smi["stdout"].splitlines():  # type: ignore[index]
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 4 and parts[3]:
                return parts[3]
    ver = _cmd(material, "driver_version_file")
    if _ok(ver):
        m = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", ver["stdout"] + " ")  # type: ignore[operator]
        if m:
            return m.group(1)
    return None


def toolkit_version(material: Mapping[str, Any]) -> str | None:
    res = _cmd(material, "nvidia_ctk_version")
    if _ok(res):
        m = re.search(r"version\s+([0-9][^\s]*)", res["stdout"])  # type: ignore[arg-type]
        if m:
            return m.group(1)
    versions = (material.get("packages") or {}).get(TOOLKIT_BASE)
    return versions[0] if versions else None


def cdi_names(material: Mapping[str, Any]) -> list[str] | None:
    """Fully qualified CDI device names from `nvidia-ctk cdi list`, or None if it failed."""
    res = _cmd(material, "cdi_list")
    if not _ok(res):
        return None
    names = []
    for line in res["stdout"].splitlines():  # type: ignore[index]
        line = line.strip()
        if re.fullmatch(r"[A-Za-z][\w.-]*/[A-Za-z][\w.-]*=[\w.:-]+", line):
            names.append(line)
    return names


def names_of_kind(names: Iterable[str], kind: str) -> list[str]:
    return [n.split("=", 1)[1] for n in names if n.split("=", 1)[0] == kind]


def spec_devices(spec_text: str | None) -> tuple[str | None, list[str], str]:
    """(kind, device names, problem) of one CDI spec file's content."""
    if spec_text is None:
        return None, [], "not readable"
    try:
        doc = yaml.safe_load(spec_text)  # JSON is YAML
    except yaml.YAMLError as exc:
        return None, [], f"not valid YAML/JSON: {str(exc).splitlines()[0]}"
    if not isinstance(doc, Mapping):
        return None, [], "not a CDI spec (no mapping)"
    kind = doc.get("kind")
    devices = doc.get("devices")
    if not isinstance(kind, str) or not isinstance(devices, list):
        return kind if isinstance(kind, str) else None, [], "not a CDI spec (needs kind and devices)"
    names = [str(d.get("name")) for d in devices if isinstance(d, Mapping) and d.get("name") is not None]
    return kind, names, ""


# ============================================================================ findings
def _host_findings(m: Mapping[str, Any], plugin_id_strategy: str | None) -> list[Finding]:
    host = str(m.get("host"))
    out: list[Finding] = []

    def add(sev: str, check: str, msg: str) -> None:
        out.append(Finding(sev, host, check, msg))

    strategy = str(m.get("device_id_strategy") or "index")
    packages: Mapping[str, Sequence[str]] = m.get("packages") or {}
    # --- toolkit packages
    if TOOLKIT_BASE not in packages:
        add("error", "toolkit", f"package {TOOLKIT_BASE} is not installed; run `openshell-auto provision` (role nvidia_container_toolkit)")
    else:
        add("info", "toolkit", f"{TOOLKIT_BASE} {', '.join(packages[TOOLKIT_BASE])} installed")
    legacy = [p for p in LEGACY_PACKAGES if p in packages]
    if legacy:
        add(
            "warning",
            "legacy-packages",
            f"legacy package(s) {', '.join(f'{p} {packages[p][0]}' for p in legacy)} installed; CDI mode needs only "
            f"{TOOLKIT_BASE} (remove them, e.g. `apt-get remove {' '.join(legacy)}`)",
        )
    ctk = _cmd(m, "nvidia_ctk_version")
    if ctk is not None and not _ok(ctk):
        add("error", "toolkit", f"`nvidia-ctk --version` failed (rc {ctk.get('rc')}: {_tail(ctk.get('stderr', ''), 1)}); reinstall {TOOLKIT_BASE}")
    # --- driver / GPUs
    count = gpu_count(m)
    drv = driver_version(m)
    if drv is None:
        smi = _cmd(m, "nvidia_smi_query")
        why = _tail(smi.get("stderr", ""), 1) if smi else "not run"
        add("error", "driver", f"no NVIDIA driver found (nvidia-smi: {why or 'failed'}); install the driver and reboot or load nvidia.ko")
    if count == 0:
        add("error", "driver", "no GPU device nodes (/dev/nvidia0...) and nvidia-smi lists no GPU")
    elif drv is not None:
        add("info", "driver", f"driver {drv}, {count} GPU(s)")
    devs = set(map(str, m.get("dev_nodes") or []))
    if count and "/dev/nvidia-uvm" not in devs:
        add("warning", "driver", "/dev/nvidia-uvm is missing: CUDA programs fail; run `nvidia-modprobe -u -c=0` or load nvidia-uvm")
    # --- CDI
    names = cdi_names(m)
    if names is None:
        res = _cmd(m, "cdi_list")
        add("error", "cdi-list", f"`nvidia-ctk cdi list` failed ({_tail(res.get('stderr', '') if res else 'not run', 1)})")
        names = []
    host_ids = names_of_kind(names, HOST_CDI_KIND)
    if count:
        # The same rule as the nvidia_cdi role (plugins/module_utils/cdi.py): what `nvidia-ctk cdi generate`
        # writes on this platform (WSL2, seen from /dev/dxg: a single `all` device).
        platform = "wsl" if "/dev/dxg" in devs else "nvml"
        missing = cdi.missing_names(names, count, strategy, HOST_CDI_KIND, platform)
        if missing:
            add(
                "error",
                "cdi-spec",
                f"CDI spec lacks {', '.join(missing)} although {count} GPU(s) were "
                f"detected; {GENERATE_HINT.format(strategy=strategy)}",
            )
        else:
            add("info", "cdi-spec", f"CDI names for {count} GPU(s) present ({', '.join(f'{HOST_CDI_KIND}={i}' for i in host_ids)})")
    if names and not names_of_kind(names, PLUGIN_CDI_KIND) and count:
        add(
            "warning",
            "cdi-plugin-spec",
            f"no {PLUGIN_CDI_KIND}=<id> devices on this host: the device plugin (cdi-cri) has not written its CDI "
            "spec here; check that its pod runs on this node",
        )
    # --- strategy: the plugin's deviceIDStrategy vs the host's device names
    want = plugin_id_strategy or strategy
    if host_ids:
        has_index = any(_INDEX_NAME.match(n) for n in host_ids)
        has_uuid = any(_UUID_NAME.match(n) for n in host_ids)
        if want == "index" and not has_index:
            add(
                "error",
                "id-strategy",
                f"device plugin uses deviceIDStrategy index but the host's CDI names are {', '.join(host_ids[:3])}: pods fail "
                f"with 'unresolvable CDI devices'; {GENERATE_HINT.format(strategy='index')}",
            )
        elif want == "uuid" and not has_uuid:
            add(
                "error",
                "id-strategy",
                f"device plugin uses deviceIDStrategy uuid but the host's CDI names are {', '.join(host_ids[:3])}: pods fail "
                f"with 'unresolvable CDI devices'; set openshell_device_id_strategy consistently and re-provision",
            )
    # --- spec files
    specs = m.get("cdi_specs") or []
    by_dir: dict[str, list[tuple[str, Any]]] = {}
    for spec in specs:
        path = str(spec.get("path") or "")
        _kind, _names, problem = spec_devices(spec.get("content"))
        if problem:
            add("error", "cdi-spec-file", f"{path}: {problem}; fix or remove the file")
            continue
        parsed = cdi.load_spec_text(str(spec.get("content")))
        for msg in cdi.validate_spec(parsed, path):
            add("error", "cdi-spec-file", msg)
        by_dir.setdefault(str(Path(path).parent), []).append((path, parsed))
    for directory in sorted(by_dir):
        for msg in cdi.duplicate_names(by_dir[directory]):
            add("error", "cdi-duplicate", msg)
    if count and not specs:
        add("error", "cdi-spec-file", f"no CDI spec files in {' or '.join(CDI_DIRS)}; {GENERATE_HINT.format(strategy=strategy)}")
    # --- refresh units
    enabled = _cmd(m, "refresh_path_enabled")
    active = _cmd(m, "refresh_path_active")
    if enabled is not None and (enabled.get("stdout") or "").strip() != "enabled":
        state = (enabled.get("stdout") or "").strip() or f"not installed ({_tail(enabled.get('stderr', ''), 1)})"
        add(
            "warning",
            "refresh-units",
            f"{REFRESH_PATH} is {state}: CDI specs will not follow driver changes; install {TOOLKIT_BASE} >= 1.18 "
            f"and run `systemctl enable --now {REFRESH_PATH}`",
        )
    elif active is not None and (active.get("stdout") or "").strip() != "active":
        add("warning", "refresh-units", f"{REFRESH_PATH} is {(active.get('stdout') or '').strip() or 'not active'}; run `systemctl start {REFRESH_PATH}`")
    show = _cmd(m, "refresh_service_show")
    if show is not None and _ok(show):
        props = dict(line.split("=", 1) for line in show["stdout"].splitlines() if "=" in line)  # type: ignore[index]
        if props.get("Result") not in (None, "", "success") or props.get("ActiveState") == "failed":
            log = _cmd(m, "refresh_service_log")
            last = _tail(log.get("stdout", ""), 3) if log else ""
            add(
                "error",
                "refresh-units",
                f"{REFRESH_SERVICE} failed (Result={props.get('Result')}); last log lines: {last or 'none'}; "
                f"fix the cause and run `systemctl restart {REFRESH_SERVICE}`",
            )
    # --- k3s containerd nvidia handler
    cd = m.get("containerd") or {}
    if not cd.get("exists"):
        add("error", "containerd-handler", f"{cd.get('path') or CONTAINERD_CONFIG} not found: k3s has not started on this host yet")
    elif not cd.get("nvidia"):
        add(
            "error",
            "containerd-handler",
            "k3s's containerd has no `nvidia` runtime handler (the device-plugin pod needs it): install "
            f"{TOOLKIT_BASE} (nvidia-container-runtime on PATH) and restart k3s (`systemctl restart k3s` or k3s-agent)",
        )
    if cd.get("exists") and cd.get("cdi") is False:
        dropped = "has CDI off, so the device plugin's CDI devices are dropped and GPU pods start without GPUs"
        if int(cd.get("version") or 1) >= 3:
            fix = (f"remove enable_cdi = false from [plugins.'{containerd.CRI_V3}'] in your config-v3.toml.tmpl "
                   "(or config.toml.tmpl) and restart k3s")
            add("error", "containerd-cdi", f"k3s's containerd (config version 3: containerd 2.x) {dropped}: {fix}")
        else:
            fix = ("re-run `openshell-auto provision` (the k3s role derives config.toml.tmpl with enable_cdi = true), "
                   f'or set enable_cdi = true in the [plugins."{containerd.CRI_V2}"] table of your own '
                   "config.toml.tmpl and restart k3s")
            add("error", "containerd-cdi",
                f"k3s's containerd (config version {cd.get('version')}: containerd 1.7) {dropped}: {fix}")
    return out


def _node_for(host: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    names = {str(host.get("host"))}
    hn = _cmd(host, "hostname")
    if _ok(hn):
        names.add(hn["stdout"].strip())  # type: ignore[index]
        names.add(hn["stdout"].strip().split(".")[0])  # type: ignore[index]
    for node in nodes:
        if node.get("name") in names or node.get("hostname") in names:
            return node
    return None


def plugin_names(materials: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]]) -> device_plugin.PluginNames:
    """The device plugin's namespace and HelmChart as the inventory configures them (the material's
    `device_plugin`, written by role openshell_doctor); the role defaults when no material says."""
    hosts = list(materials.values()) if isinstance(materials, Mapping) else list(materials)
    hosts.sort(key=lambda m: not m.get("first_server"))
    for m in hosts:
        conf = m.get("device_plugin")
        if isinstance(conf, Mapping):
            return device_plugin.plugin_names(conf.get("namespace"), conf.get("helmchart"))
    return device_plugin.plugin_names()


def plugin_settings(cluster: Mapping[str, Any] | None,
                    names: device_plugin.PluginNames | None = None) -> dict[str, str | None]:
    """The device plugin's DEVICE_LIST_STRATEGY / DEVICE_ID_STRATEGY: DaemonSet env first,
    else the values of the HelmChart named `names.helmchart` (or of chart nvidia-device-plugin)."""
    names = names or device_plugin.plugin_names()
    out: dict[str, str | None] = {"list": None, "id": None, "source": None}
    if not cluster:
        return out
    for ds in cluster.get("daemonsets") or []:
        env = ds.get("env") or {}
        if "DEVICE_LIST_STRATEGY" in env or "DEVICE_ID_STRATEGY" in env:
            out.update(list=env.get("DEVICE_LIST_STRATEGY"), id=env.get("DEVICE_ID_STRATEGY", "uuid"), source="daemonset env")
            return out
    charts = sorted(cluster.get("helmcharts") or [], key=lambda hc: hc.get("name") != names.helmchart)
    for hc in charts:
        if hc.get("name") == names.helmchart or hc.get("chart") == device_plugin.DEFAULT_HELMCHART:
            values = hc.get("values") or {}
            lst = values.get("deviceListStrategy")
            out.update(
                list=",".join(lst) if isinstance(lst, list) else lst,
                id=values.get("deviceIDStrategy", "uuid"),
                source="HelmChart values",
            )
            return out
    return out


def _cluster_findings(cluster: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]]) -> list[Finding]:
    out: list[Finding] = []
    names = plugin_names(hosts)

    def add(sev: str, check: str, msg: str) -> None:
        out.append(Finding(sev, "cluster", check, msg))

    nodes = cluster.get("nodes")
    if nodes is None:
        res = _cmd(cluster, "nodes", cluster)
        add("error", "api", f"cannot read nodes from the API (`k3s kubectl get nodes`: {_tail(res.get('stderr', '') if res else 'not run', 1)}); is k3s running on the first server?")
        return out
    dss = cluster.get("daemonsets") or []
    settings = plugin_settings(cluster, names)
    if not dss:
        add(
            "error",
            "device-plugin",
            f"no device-plugin DaemonSet in namespace {names.namespace} (label {PLUGIN_LABEL}); check the HelmChart "
            f"{names.helmchart} and the logs of job {names.helm_job} in kube-system",
        )
        job = _cmd(cluster, "helm_job_logs", cluster)
        if _ok(job) and job.get("stdout"):  # type: ignore[union-attr]
            add("info", "helm-job", f"{names.helm_job} log tail: {_tail(job['stdout'], 3)}")  # type: ignore[index]
        elif job is not None:
            add(
                "error",
                "helm-job",
                f"no logs of job {names.helm_job} in kube-system ({_tail(job.get('stderr', ''), 1) or 'no output'}): k3s has not "
                "run the chart; check that the HelmChart manifest is in /var/lib/rancher/k3s/server/manifests",
            )
    for ds in dss:
        desired, ready = int(ds.get("desired") or 0), int(ds.get("ready") or 0)
        if desired == 0:
            add(
                "error",
                "device-plugin",
                f"DaemonSet {ds.get('namespace')}/{ds.get('name')} schedules no pod: no node carries the label "
                f"{'='.join(GPU_NODE_LABEL)} (set openshell_gpu on GPU hosts, or label the node)",
            )
        elif ready < desired:
            logs = _cmd(cluster, "plugin_logs", cluster)
            add(
                "error",
                "device-plugin",
                f"DaemonSet {ds.get('namespace')}/{ds.get('name')}: {ready}/{desired} pods ready; "
                f"plugin log tail: {_tail(logs.get('stdout', '') if logs else '', 2) or 'none'} "
                "(a pod stuck in ContainerCreating with 'no runtime for \"nvidia\"' means k3s lacks the nvidia handler)",
            )
    if settings["list"] is not None and settings["list"] != "cdi-cri":
        add(
            "error",
            "device-plugin",
            f"device plugin DEVICE_LIST_STRATEGY is {settings['list']!r} ({settings['source']}), not 'cdi-cri': GPU pods would "
            "need the nvidia runtime class; set deviceListStrategy: cdi-cri",
        )
    logs = _cmd(cluster, "plugin_logs", cluster)
    if logs and "unresolvable CDI devices" in (logs.get("stdout") or ""):
        add("error", "id-strategy", "device-plugin log shows 'unresolvable CDI devices': the CDI names on the hosts do not match deviceIDStrategy")
    # nodes
    ready_nodes = []
    for node in nodes:
        try:
            alloc = parse_quantity(node.get("allocatable_gpu")) if node.get("allocatable_gpu") is not None else None
        except QuantityError:
            alloc = None
        if alloc and alloc > 0:
            ready_nodes.append(node.get("name"))
    for host in hosts:
        if not host.get("gpu"):
            continue
        node = _node_for(host, nodes)
        if node is None:
            add("error", "node", f"GPU host {host.get('host')} has no Node object: it has not joined the cluster")
            continue
        if node.get("labels", {}).get(GPU_NODE_LABEL[0]) != GPU_NODE_LABEL[1]:
            add(
                "warning",
                "node-label",
                f"node {node.get('name')} (GPU host {host.get('host')}) lacks label {'='.join(GPU_NODE_LABEL)}: the "
                "device-plugin chart's affinity skips it",
            )
        if node.get("name") not in ready_nodes:
            add(
                "error",
                "allocatable",
                f"node {node.get('name')} (GPU host {host.get('host')}) reports no allocatable {GPU_RESOURCE} "
                f"(allocatable: {node.get('allocatable_gpu')!r}); see the device-plugin findings above",
            )
    if ready_nodes:
        add("info", "readiness", f"cluster is GPU-enabled: allocatable {GPU_RESOURCE} on {', '.join(map(str, ready_nodes))}")
    else:
        add("error", "readiness", "GPU sandboxes will be refused: no node reports allocatable nvidia.com/gpu")
    # GPU pods with a runtimeClassName (the plugin's own pods need one; workloads do not)
    for pod in cluster.get("pods") or []:
        if pod.get("gpus") and pod.get("runtime_class") and pod.get("namespace") != names.namespace:
            add(
                "warning",
                "runtime-class",
                f"GPU pod {pod.get('namespace')}/{pod.get('name')} sets runtimeClassName {pod.get('runtime_class')!r}; in "
                "CDI mode GPU pods need none (remove it)",
            )
    return out


def findings(materials: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """All findings: per GPU host, then cluster-wide. Errors first within each block."""
    hosts = [materials[h] for h in sorted(materials)]
    cluster = next((m.get("cluster") for m in hosts if m.get("cluster")), None)
    settings = plugin_settings(cluster, plugin_names(hosts))
    out: list[Finding] = []
    for m in hosts:
        if m.get("gpu"):
            out.extend(_host_findings(m, settings["id"]))
    if cluster is not None:
        out.extend(_cluster_findings(cluster, hosts))
    else:
        out.append(Finding("error", "cluster", "api", "no cluster material: the first server was not reached or is not in the inventory"))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: (f.host == "cluster", f.host, order.get(f.severity, 9)))


def load_bundle(directory: Path) -> dict[str, dict[str, Any]]:
    """Read <dir>/hosts/*.json written by the openshell_doctor role."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((directory / "hosts").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[str(data.get("host") or path.stem)] = data
    return out


def report_text(found: Sequence[Finding]) -> str:
    lines = []
    current = None
    for f in found:
        if f.host != current:
            current = f.host
            lines.append(f"{f.host}:")
        lines.append(f"  [{f.severity}] {f.check}: {f.message}")
    errors = sum(1 for f in found if f.severity == "error")
    warnings = sum(1 for f in found if f.severity == "warning")
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


def failed(found: Sequence[Finding]) -> bool:
    """The doctor's verdict: an error finding, or nothing gathered at all."""
    return not found or any(f.severity == "error" for f in found)


def verdict(materials: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What `openshell-auto doctor` decides, for the doctor play to report and fail on:
    passed, every finding, one line per error, and the report the CLI prints."""
    found = findings(materials) if materials else []
    return {"passed": not failed(found), "findings": [f.to_dict() for f in found],
            "errors": [f"{f.host} {f.check}: {f.message}" for f in found if f.severity == "error"],
            "report": report_text(found) if found else "no material gathered"}
