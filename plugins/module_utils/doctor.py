"""The doctor: plain-words findings from material gathered by playbooks/doctor.yml.

Everything here is pure: it reads the per-host material the `openshell_doctor` role writes (one
JSON file per host; its shape and its accessors: module_utils.material) and returns findings.
Tests feed it recorded command output (tests/data/doctor/).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi, containerd, device_plugin, material
from ansible_collections.openshell_auto.cluster.plugins.module_utils.material import (
    HOST_CDI_KIND,
    INDEX_NAME,
    PLUGIN_CDI_KIND,
    REFRESH_PATH,
    REFRESH_SERVICE,
    TOOLKIT_BASE,
    UUID_NAME,
    cdi_names,
    command,
    driver_version,
    gpu_count,
    names_of_kind,
    node_for,
    plugin_names,
    plugin_settings,
    spec_devices,
    succeeded,
    tail,
)
from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import GPU_RESOURCE, has_gpus

LEGACY_PACKAGES = ("nvidia-container-toolkit", "libnvidia-container-tools", "libnvidia-container1")
PLUGIN_LABEL = device_plugin.PLUGIN_LABEL
CONTAINERD_CONFIG = material.CONTAINERD_CONFIG
GENERATE_HINT = (
    "run `nvidia-ctk cdi generate --output /var/run/cdi/nvidia.yaml --device-name-strategy {strategy}` "
    f"or `systemctl restart {REFRESH_SERVICE}`"
)

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    host: str  # inventory host, or "cluster"
    check: str  # short id, e.g. "cdi-spec"
    message: str  # what is wrong, in plain words, with the next step

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


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
    ctk = command(m, "nvidia_ctk_version")
    if ctk is not None and not succeeded(ctk):
        add("error", "toolkit", f"`nvidia-ctk --version` failed (rc {ctk.get('rc')}: {tail(ctk.get('stderr', ''), 1)}); reinstall {TOOLKIT_BASE}")
    # --- driver / GPUs
    count = gpu_count(m)
    drv = driver_version(m)
    if drv is None:
        smi = command(m, "nvidia_smi_query")
        why = tail(smi.get("stderr", ""), 1) if smi else "not run"
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
        res = command(m, "cdi_list")
        add("error", "cdi-list", f"`nvidia-ctk cdi list` failed ({tail(res.get('stderr', '') if res else 'not run', 1)})")
        names = []
    host_ids = names_of_kind(names, HOST_CDI_KIND)
    if count:
        # The same rule as the nvidia_cdi role (plugins/module_utils/cdi.py): what `nvidia-ctk cdi generate`
        # writes on this platform (WSL2, seen from /dev/dxg: a single `all` device).
        missing = material.missing_cdi_names(m, names) or []
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
        has_index = any(INDEX_NAME.match(n) for n in host_ids)
        has_uuid = any(UUID_NAME.match(n) for n in host_ids)
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
        add("error", "cdi-spec-file", f"no CDI spec files in {' or '.join(material.cdi_dirs(m))}; {GENERATE_HINT.format(strategy=strategy)}")
    # --- refresh units
    enabled = command(m, "refresh_path_enabled")
    active = command(m, "refresh_path_active")
    if enabled is not None and (enabled.get("stdout") or "").strip() != "enabled":
        state = (enabled.get("stdout") or "").strip() or f"not installed ({tail(enabled.get('stderr', ''), 1)})"
        add(
            "warning",
            "refresh-units",
            f"{REFRESH_PATH} is {state}: CDI specs will not follow driver changes; install {TOOLKIT_BASE} >= 1.18 "
            f"and run `systemctl enable --now {REFRESH_PATH}`",
        )
    elif active is not None and (active.get("stdout") or "").strip() != "active":
        add("warning", "refresh-units", f"{REFRESH_PATH} is {(active.get('stdout') or '').strip() or 'not active'}; run `systemctl start {REFRESH_PATH}`")
    show = command(m, "refresh_service_show")
    if show is not None and succeeded(show):
        props = dict(line.split("=", 1) for line in show["stdout"].splitlines() if "=" in line)
        if props.get("Result") not in (None, "", "success") or props.get("ActiveState") == "failed":
            log = command(m, "refresh_service_log")
            last = tail(log.get("stdout", ""), 3) if log else ""
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


def _cluster_findings(cluster: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]]) -> list[Finding]:
    out: list[Finding] = []
    names = plugin_names(hosts)
    label = material.gpu_node_label(hosts)

    def add(sev: str, check: str, msg: str) -> None:
        out.append(Finding(sev, "cluster", check, msg))

    nodes = cluster.get("nodes")
    if nodes is None:
        res = command(cluster, "nodes", cluster)
        why = tail(res.get("stderr", "") if res else "not run", 1)
        add("error", "api", f"cannot read nodes from the API (`k3s kubectl get nodes`: {why}); is k3s running on the first server?")
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
        job = command(cluster, "helm_job_logs", cluster)
        if succeeded(job) and job.get("stdout"):
            add("info", "helm-job", f"{names.helm_job} log tail: {tail(job['stdout'], 3)}")
        elif job is not None:
            add(
                "error",
                "helm-job",
                f"no logs of job {names.helm_job} in kube-system ({tail(job.get('stderr', ''), 1) or 'no output'}): k3s has not "
                "run the chart; check that the HelmChart manifest is in /var/lib/rancher/k3s/server/manifests",
            )
    for ds in dss:
        desired, ready = int(ds.get("desired") or 0), int(ds.get("ready") or 0)
        if desired == 0:
            add(
                "error",
                "device-plugin",
                f"DaemonSet {ds.get('namespace')}/{ds.get('name')} schedules no pod: no node carries the label "
                f"{'='.join(label)} (set openshell_gpu on GPU hosts, or label the node)",
            )
        elif not device_plugin.daemonset_ready(desired, ready):
            logs = command(cluster, "plugin_logs", cluster)
            add(
                "error",
                "device-plugin",
                f"DaemonSet {ds.get('namespace')}/{ds.get('name')}: {ready}/{desired} pods ready; "
                f"plugin log tail: {tail(logs.get('stdout', '') if logs else '', 2) or 'none'} "
                "(a pod stuck in ContainerCreating with 'no runtime for \"nvidia\"' means k3s lacks the nvidia handler)",
            )
    if settings["list"] is not None and settings["list"] != "cdi-cri":
        add(
            "error",
            "device-plugin",
            f"device plugin DEVICE_LIST_STRATEGY is {settings['list']!r} ({settings['source']}), not 'cdi-cri': GPU pods would "
            "need the nvidia runtime class; set deviceListStrategy: cdi-cri",
        )
    logs = command(cluster, "plugin_logs", cluster)
    if logs and "unresolvable CDI devices" in (logs.get("stdout") or ""):
        add("error", "id-strategy", "device-plugin log shows 'unresolvable CDI devices': the CDI names on the hosts do not match deviceIDStrategy")
    # nodes
    ready_nodes = [node.get("name") for node in nodes if has_gpus(node.get("allocatable_gpu"))]
    for host in hosts:
        if not host.get("gpu"):
            continue
        node = node_for(host, nodes)
        if node is None:
            add("error", "node", f"GPU host {host.get('host')} has no Node object: it has not joined the cluster")
            continue
        if node.get("labels", {}).get(label[0]) != label[1]:
            add(
                "warning",
                "node-label",
                f"node {node.get('name')} (GPU host {host.get('host')}) lacks label {'='.join(label)}: the "
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
