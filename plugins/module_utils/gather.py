"""Reducers of the doctor's and verify's gathering (role openshell_doctor, through filter plugin
openshell_doctor): registered command output, kubectl JSON, the containerd config, CDI spec files
and package facts become the per-host material that module_utils.material reads.

Secrets never enter the material: no token, no kubeconfig, the containerd config is reduced to
its runtime handlers, node/pod objects are reduced to the fields the checks need.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import containerd
from ansible_collections.openshell_auto.cluster.plugins.module_utils.material import CONTAINERD_CONFIG
from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import GPU_RESOURCE, QuantityError, parse_quantity

MAX_OUTPUT = 20000  # characters of one command's output kept in the material


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
                    for name, found in v.items():
                        conf = found if isinstance(found, Mapping) else {}
                        opts = options if isinstance(options := conf.get("options"), Mapping) else {}
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
            out["commands"][key] = {**res, "stdout": f"<{len(res.get('stdout') or '')} characters of JSON, reduced to '{key}'>"}
        else:
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
