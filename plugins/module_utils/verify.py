"""Verify: pass/fail checks per host and per cluster from the material playbooks/verify.yml
gathered (the doctor's material, read through module_utils.material, plus the smoke pod's result).

Smoke result (written by role openshell_verify on the first server, key "smoke" of its material)::

    {"ran": bool, "reason": str, "manifest": {...}, "apply": {cmd result}, "wait": {...},
     "phase": "Succeeded" | ..., "logs": {cmd result}, "delete": {...}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils import device_plugin, material, tables
from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import GPU_RESOURCE, has_gpus


@dataclass(frozen=True)
class Check:
    host: str  # inventory host, "cluster", or "node/<name>"
    check: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _host_checks(m: Mapping[str, Any]) -> list[Check]:
    host = str(m.get("host"))
    out: list[Check] = []
    drv = material.driver_version(m)
    count = material.gpu_count(m)
    out.append(Check(host, "driver", drv is not None and bool(count),
                     f"driver {drv}, {count} GPU(s)" if drv else "no NVIDIA driver (nvidia-smi failed, no version file)"))
    tk = material.toolkit_version(m)
    pkgs = m.get("packages") or {}
    out.append(Check(host, "toolkit", tk is not None and material.TOOLKIT_BASE in pkgs,
                     f"nvidia-ctk {tk}" if tk else f"{material.TOOLKIT_BASE} / nvidia-ctk not found"))
    names = material.cdi_names(m)
    missing = material.missing_cdi_names(m)
    if names is None or missing is None:
        out.append(Check(host, "cdi-names", False, "`nvidia-ctk cdi list` failed"))
    else:
        ids = material.names_of_kind(names, material.HOST_CDI_KIND)
        detail = ", ".join(f"{material.HOST_CDI_KIND}={i}" for i in ids) or "no nvidia.com/gpu devices"
        if missing:
            detail += f"; missing {', '.join(missing)}"
        out.append(Check(host, "cdi-names", bool(count) and not missing, detail))
    en = material.command(m, "refresh_path_enabled")
    ac = material.command(m, "refresh_path_active")
    show = material.command(m, "refresh_service_show")
    props = dict(line.split("=", 1) for line in (show or {}).get("stdout", "").splitlines() if "=" in line)
    en_s = (en or {}).get("stdout", "").strip() or "unknown"
    ac_s = (ac or {}).get("stdout", "").strip() or "unknown"
    result = props.get("Result", "unknown")
    out.append(Check(host, "refresh-units", en_s == "enabled" and ac_s == "active" and result in ("success", ""),
                     f"{material.REFRESH_PATH} {en_s}/{ac_s}, {material.REFRESH_SERVICE} Result={result}"))
    cd = m.get("containerd") or {}
    out.append(Check(host, "containerd-nvidia", bool(cd.get("nvidia")),
                     ("nvidia runtime handler in " if cd.get("nvidia") else "no nvidia runtime handler in ")
                     + str(cd.get("path") or material.CONTAINERD_CONFIG) + ("" if cd.get("exists", True) else " (file missing)")))
    return out


def _cluster_checks(cluster: Mapping[str, Any] | None, hosts: Sequence[Mapping[str, Any]]) -> list[Check]:
    if not cluster:
        return [Check("cluster", "api", False, "no cluster material: the first server was not reached")]
    out: list[Check] = []
    nodes = cluster.get("nodes")
    if nodes is None:
        return [Check("cluster", "api", False, "cannot read nodes (`k3s kubectl get nodes -o json` failed)")]
    names = material.plugin_names(hosts)
    settings = material.plugin_settings(cluster, names)
    dss = cluster.get("daemonsets") or []
    if not dss:
        out.append(Check("cluster", "device-plugin", False, f"no DaemonSet labelled {device_plugin.PLUGIN_LABEL} in {names.namespace}"))
    for ds in dss:
        desired, ready = int(ds.get("desired") or 0), int(ds.get("ready") or 0)
        strat_ok = settings["list"] == "cdi-cri"
        out.append(Check("cluster", "device-plugin", device_plugin.daemonset_ready(desired, ready) and strat_ok,
                         f"{ds.get('namespace')}/{ds.get('name')} {ready}/{desired} ready, DEVICE_LIST_STRATEGY="
                         f"{settings['list']} ({settings['source'] or 'not found'})"))
    gpu_node_names = set()
    for host in hosts:
        if host.get("gpu"):
            node = material.node_for(host, nodes)
            if node is not None:
                gpu_node_names.add(node.get("name"))
            else:
                out.append(Check(f"node/{host.get('host')}", "allocatable-gpus", False, "GPU host has no Node object"))
    for node in nodes:
        raw = node.get("allocatable_gpu")
        is_gpu = node.get("name") in gpu_node_names
        ok = has_gpus(raw) if is_gpu else True
        detail = f"allocatable {GPU_RESOURCE}={raw if raw is not None else 'none'}" + (" (GPU host)" if is_gpu else "")
        out.append(Check(f"node/{node.get('name')}", "allocatable-gpus", ok, detail))
    smoke = cluster.get("smoke")
    out.append(_smoke_check(smoke))
    return out


def _smoke_check(smoke: Mapping[str, Any] | None) -> Check:
    if not smoke:
        return Check("cluster", "smoke-pod", False, "smoke pod not run (no result)")
    if not smoke.get("ran"):
        return Check("cluster", "smoke-pod", False, f"smoke pod not run: {smoke.get('reason') or 'unknown reason'}")
    apply = smoke.get("apply") or {}
    if apply.get("rc") not in (0, None):
        return Check("cluster", "smoke-pod", False,
                     f"smoke pod not created: `kubectl apply` failed: {material.tail(apply.get('stderr', ''), 1) or 'no output'}")
    phase = smoke.get("phase")
    logs = (smoke.get("logs") or {}).get("stdout", "")
    gpu_lines = [line for line in logs.splitlines() if line.startswith("GPU ")]
    ok = phase == "Succeeded" and bool(gpu_lines)
    if ok:
        detail = f"nvidia-smi -L: {gpu_lines[0].strip()}"
    else:
        why = material.tail((smoke.get("wait") or {}).get("stderr", "") or (smoke.get("logs") or {}).get("stderr", ""), 1)
        detail = f"phase {phase or 'unknown'}; " + (why or f"no GPU line in the log ({material.tail(logs, 1) or 'empty'})")
    deleted = (smoke.get("delete") or {}).get("rc") == 0
    detail += "; deleted" if deleted else "; NOT deleted, remove it by hand"
    return Check("cluster", "smoke-pod", ok and deleted, detail)


def evaluate(materials: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    hosts = [materials[h] for h in sorted(materials)]
    out: list[Check] = []
    for m in hosts:
        if m.get("gpu"):
            out.extend(_host_checks(m))
    cluster = next((m.get("cluster") for m in hosts if m.get("cluster")), None)
    out.extend(_cluster_checks(cluster, hosts))
    return out


def passed(checks: Sequence[Check]) -> bool:
    return bool(checks) and all(c.ok for c in checks)


def with_smoke(materials: Mapping[str, Mapping[str, Any]], smoke: Mapping[str, Any] | None
               ) -> dict[str, dict[str, Any]]:
    """The material of one verify run: the smoke pod's result (smoke.json, or the role's fact)
    joins the cluster material, without changing the caller's mappings."""
    return {host: ({**m, "cluster": {**m["cluster"], "smoke": smoke}} if m.get("cluster") is not None else dict(m))
            for host, m in materials.items()}


def verdict(materials: Mapping[str, Mapping[str, Any]], smoke: Mapping[str, Any] | None) -> dict[str, Any]:
    """What `openshell-auto verify` decides, for the verify play to report and fail on:
    passed, every check, one line per failed check, and the table the CLI prints."""
    checks = evaluate(with_smoke(materials, smoke)) if materials else []
    return {"passed": passed(checks), "checks": [c.to_dict() for c in checks],
            "failed": [f"{c.host} {c.check}: {c.detail}" for c in checks if not c.ok],
            "table": table_text(checks) if checks else "no material gathered"}


def to_json(checks: Sequence[Check]) -> str:
    return json.dumps({"passed": passed(checks), "checks": [c.to_dict() for c in checks]}, indent=2)


def table_rows(checks: Sequence[Check]) -> list[tuple[str, str, str, str]]:
    return [(c.host, c.check, "PASS" if c.ok else "FAIL", c.detail) for c in checks]


def table_text(checks: Sequence[Check]) -> str:
    failed = sum(1 for c in checks if not c.ok)
    return tables.plain(("HOST", "CHECK", "RESULT", "DETAIL"), table_rows(checks)) + \
        f"\n{len(checks) - failed} passed, {failed} failed"
