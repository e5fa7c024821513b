"""The NVIDIA device plugin's names and sharing settings, decided once for the CLI and the roles.

Upstream facts (NVIDIA/k8s-device-plugin, tag v0.19.1):

- Time slicing: `api/config/v1/replicas.go` (`ReplicatedResource.UnmarshalJSON`) refuses a
  resource whose `replicas` is below 2 ("number of replicas must be >= 2"); the plugin then fails
  to load its config and advertises nothing. `internal/rm/device_map.go`
  (`updateDeviceMapWithReplicas`) turns each device of a shared resource into `replicas`
  annotated devices (`<id>::<n>`), so a node advertises GPUs x replicas under the same resource
  name (`nvidia.com/gpu`; `renameByDefault` would make it `nvidia.com/gpu.shared`).
- MIG strategies (`api/config/v1/consts.go`: none, single, mixed; anything else is refused by
  `cmd/nvidia-device-plugin/main.go` "unknown MIG strategy"): `internal/rm/rm.go`
  (`AddDefaultResourcesToConfig`) maps MIG devices to `nvidia.com/gpu` under `single` and to
  `nvidia.com/mig-<profile>` under `mixed`; `internal/rm/device_map.go` leaves GPUs with MIG
  enabled out of `nvidia.com/gpu` under both. How many MIG devices a GPU carries is known only to
  NVML on the host, so with single or mixed the count is not predictable from device nodes.

The chart's names: the DaemonSet carries `app.kubernetes.io/name=nvidia-device-plugin` (the chart
name, `deployments/helm/nvidia-device-plugin/templates/_helpers.tpl`), k3s's helm controller runs
the job `helm-install-<HelmChart name>` in the HelmChart's namespace (kube-system here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.readiness import GPU_RESOURCE, has_gpus

MIG_RESOURCE_PREFIX = "nvidia.com/mig-"
HELMCHART_NAMESPACE = "kube-system"
# The chart's name, which its templates put on the DaemonSet as app.kubernetes.io/name.
CHART_NAME = "nvidia-device-plugin"
PLUGIN_LABEL = f"app.kubernetes.io/name={CHART_NAME}"
# The shared role's defaults (openshell_device_plugin_namespace, openshell_device_plugin_helmchart,
# openshell_gpu_node_label) live in this collection's roles/openshell/defaults/main.yml, read when
# a caller names none.
SHARED_DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "openshell" / "defaults" / "main.yml"
MIG_STRATEGIES = ("none", "single", "mixed")
MIN_REPLICAS = 2


@dataclass(frozen=True)
class PluginNames:
    namespace: str
    helmchart: str

    @property
    def helm_job(self) -> str:
        return f"helm-install-{self.helmchart}"

    def to_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "helmchart": self.helmchart, "helm_job": self.helm_job,
                "label": PLUGIN_LABEL}


@lru_cache(maxsize=1)
def shared_defaults() -> dict[str, Any]:
    """Role openshell's defaults/main.yml, as the file says (templates are not rendered)."""
    import yaml  # PyYAML: a dependency of ansible-core

    defaults: dict[str, Any] = yaml.safe_load(SHARED_DEFAULTS.read_text(encoding="utf-8"))
    return defaults


def plugin_names(namespace: Any = None, helmchart: Any = None) -> PluginNames:
    """The configured namespace / HelmChart name, the shared role's defaults where unset or empty."""
    defaults = shared_defaults() if not (namespace and helmchart) else {}
    return PluginNames(namespace=str(namespace or defaults["openshell_device_plugin_namespace"]),
                       helmchart=str(helmchart or defaults["openshell_device_plugin_helmchart"]))


def plugin_names_dict(namespace: Any = None, helmchart: Any = None) -> dict[str, str]:
    return plugin_names(namespace, helmchart).to_dict()


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def replicas_problem(replicas: Any) -> str | None:
    """Why the plugin would refuse this nvidia_device_plugin_time_slicing_replicas (0 = no time
    slicing); None when it accepts it."""
    n = _as_int(replicas)
    if n is None:
        return f"{replicas!r} is not a whole number; set 0 (no time slicing) or {MIN_REPLICAS} or more"
    if n < 0 or 0 < n < MIN_REPLICAS:
        return (f"{n} is refused by the device plugin (replicas below {MIN_REPLICAS}: \"number of replicas must be "
                f">= 2\"; it then advertises no GPU); set 0 (no time slicing) or {MIN_REPLICAS} or more")
    return None


def mig_strategy_problem(mig_strategy: Any) -> str | None:
    """Why the plugin would refuse this nvidia_device_plugin_mig_strategy ("" = chart default)."""
    if mig_strategy is None or mig_strategy == "" or (isinstance(mig_strategy, str) and mig_strategy in MIG_STRATEGIES):
        return None
    return (f"{mig_strategy!r} is refused by the device plugin (\"unknown MIG strategy\"); use one of "
            f"{', '.join(MIG_STRATEGIES)}, or leave it empty for the chart default (none)")


def sharing_problems(replicas: Any, mig_strategy: Any) -> list[str]:
    """What the device plugin would refuse in these role settings, one line per field; []: accepted."""
    out = []
    problem = replicas_problem(replicas)
    if problem:
        out.append(f"nvidia_device_plugin_time_slicing_replicas: {problem}")
    problem = mig_strategy_problem(mig_strategy)
    if problem:
        out.append(f"nvidia_device_plugin_mig_strategy: {problem}")
    return out


@dataclass(frozen=True)
class ExpectedGpus:
    """What one GPU node should advertise: exactly `count` nvidia.com/gpu, or (count None: MIG
    strategies, whose device count only NVML knows) at least one nvidia.com/gpu or
    nvidia.com/mig-<profile>."""

    count: int | None

    def describe(self) -> str:
        if self.count is not None:
            return f"{GPU_RESOURCE}={self.count}"
        return f"{GPU_RESOURCE} or {MIG_RESOURCE_PREFIX}<profile> > 0"

    def met_by(self, allocatable: Mapping[str, Any]) -> bool:
        if self.count is not None:
            return _as_int(allocatable.get(GPU_RESOURCE, "0")) == self.count
        return any((k == GPU_RESOURCE or k.startswith(MIG_RESOURCE_PREFIX)) and has_gpus(v)
                   for k, v in allocatable.items())


def expected_gpus(gpu_count: Any, replicas: Any = 0, mig_strategy: Any = "") -> ExpectedGpus:
    """Allocatable GPUs a node with `gpu_count` GPUs advertises under this configuration."""
    gpus = _as_int(gpu_count) or 0
    if str(mig_strategy or "none") != "none":
        return ExpectedGpus(count=None)
    n = _as_int(replicas) or 0
    return ExpectedGpus(count=gpus * n if n >= MIN_REPLICAS else gpus)


def daemonset_ready(desired: Any, ready: Any) -> bool:
    """The plugin's DaemonSet is ready when it schedules at least one pod (a GPU node carries the
    label) and every scheduled pod is ready. The device-plugin wait, verify and the doctor decide
    with this."""
    want, have = _as_int(desired) or 0, _as_int(ready) or 0
    return want > 0 and have == want


def daemonset_list_ready(daemonsets_json: Any) -> bool:
    """`kubectl get daemonset -o json` (a List): it holds a DaemonSet and the first is ready."""
    try:
        doc = json.loads(daemonsets_json) if isinstance(daemonsets_json, str) else daemonsets_json
        items = doc.get("items") or []
    except (ValueError, AttributeError):
        return False
    if not items or not isinstance(items[0], Mapping):
        return False
    status = items[0].get("status") or {}
    return daemonset_ready(status.get("desiredNumberScheduled"), status.get("numberReady"))


def allocatable_mismatches(nodes_json: Any, gpu_counts: Mapping[str, Any], replicas: Any = 0,
                           mig_strategy: Any = "") -> list[str]:
    """`kubectl get nodes -o json` against {node name: GPUs found on it}: one line per GPU node that
    does not advertise what expected_gpus() says ([] when all do)."""
    try:
        doc = json.loads(nodes_json) if isinstance(nodes_json, str) else nodes_json
        items = doc.get("items") if isinstance(doc, Mapping) and "items" in doc else [doc]
    except (ValueError, AttributeError):
        return ["the node list is not JSON"]
    by_name = {}
    for item in items or []:
        if isinstance(item, Mapping):
            meta = item.get("metadata") or {}
            by_name[str(meta.get("name"))] = ((item.get("status") or {}).get("allocatable")) or {}
    out = []
    for name in sorted(gpu_counts):
        want = expected_gpus(gpu_counts[name], replicas, mig_strategy)
        if name not in by_name:
            out.append(f"{name} is not a node (expected {want.describe()})")
        elif not want.met_by(by_name[name]):
            have = {k: v for k, v in by_name[name].items() if k == GPU_RESOURCE or k.startswith(MIG_RESOURCE_PREFIX)}
            out.append(f"{name} has {have or 'no GPU resource'} (expected {want.describe()})")
    return out
