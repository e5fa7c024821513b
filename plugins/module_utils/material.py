"""Accessors of the material gathered by playbooks/doctor.yml and playbooks/verify.yml: what the
doctor's rules (module_utils.doctor) and verify's checks (module_utils.verify) read from it, read
once here. The reducers that build it are module_utils.gather.

Material of one host (keys always present; values may be None/empty when not gathered)::

    {"host": "gpu1", "server": bool, "gpu": bool, "first_server": bool,
     "device_id_strategy": "index",
     "device_plugin": {"namespace": str, "helmchart": str, ...},  # as configured (role defaults)
     "commands": {"<key>": {"cmd": [...], "rc": int, "stdout": str, "stderr": str}},
     "packages": {"<name>": ["<version>", ...]},          # nvidia*/libnvidia* packages only
     "cdi_dirs": [str, ...],                               # openshell_cdi_spec_dirs
     "gpu_node_label": "key=value",                        # openshell_gpu_node_label
     "cdi_specs": [{"path": str, "content": str}],        # the specs in cdi_dirs
     "dev_nodes": ["/dev/nvidia0", ...],
     "containerd": {"path": str, "exists": bool, "runtimes": {...}, "nvidia": bool, "lines": [...]},
     "cluster": None | {"commands": {...}, "nodes": [...], "daemonsets": [...], "pods": [...],
                        "helmcharts": [...]}}             # first server only

Secrets never enter the material: no token, no kubeconfig, the containerd config is reduced to
its runtime handlers, node/pod objects are reduced to the fields the checks need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi, device_plugin, nvidia_driver

TOOLKIT_BASE = "nvidia-container-toolkit-base"
PLUGIN_CDI_KIND = "k8s.device-plugin.nvidia.com/gpu"
HOST_CDI_KIND = cdi.DEFAULT_KIND
REFRESH_PATH = "nvidia-cdi-refresh.path"
REFRESH_SERVICE = "nvidia-cdi-refresh.service"
CONTAINERD_CONFIG = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
UUID_NAME = re.compile(r"^(GPU|MIG)-[0-9a-fA-F-]+$")
INDEX_NAME = re.compile(r"^[0-9]+(:[0-9]+)?$")


def command(material: Mapping[str, Any], key: str, section: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    cmds = (section if section is not None else material).get("commands") or {}
    res = cmds.get(key)
    if not isinstance(res, Mapping) or res.get("skipped"):
        return None
    return dict(res)


def succeeded(res: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    return res is not None and res.get("rc") == 0


def tail(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " | ".join(lines[-n:])


def gpu_count(material: Mapping[str, Any]) -> int | None:
    """GPUs detected on the host: `nvidia-smi -L` lines, else /dev/nvidiaN device nodes."""
    smi = command(material, "nvidia_smi_list")
    if succeeded(smi):
        n = sum(1 for line in smi["stdout"].splitlines() if line.startswith("GPU "))
        if n:
            return n
    devs = [d for d in material.get("dev_nodes") or [] if re.fullmatch(r"/dev/nvidia[0-9]+", str(d))]
    return len(devs) if devs else (0 if material.get("dev_nodes") is not None else None)


def driver_version(material: Mapping[str, Any]) -> str | None:
    smi = command(material, "nvidia_smi_query")
    if succeeded(smi):
        for line in str(smi["stdout"]).splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 4 and parts[3]:
                return parts[3]
    ver = command(material, "driver_version_file")
    if succeeded(ver):
        return nvidia_driver.version_from_file(ver["stdout"]) or None
    return None


def toolkit_version(material: Mapping[str, Any]) -> str | None:
    res = command(material, "nvidia_ctk_version")
    if succeeded(res):
        m = re.search(r"version\s+([0-9][^\s]*)", res["stdout"])
        if m:
            return m.group(1)
    versions = (material.get("packages") or {}).get(TOOLKIT_BASE)
    return versions[0] if versions else None


def cdi_names(material: Mapping[str, Any]) -> list[str] | None:
    """Fully qualified CDI device names from `nvidia-ctk cdi list`, or None if it failed."""
    res = command(material, "cdi_list")
    if not succeeded(res):
        return None
    return cdi.listed_names(res["stdout"].splitlines())


def cdi_dirs(material: Mapping[str, Any]) -> list[str]:
    """The CDI spec directories the host's specs were read from (openshell_cdi_spec_dirs, recorded
    by role openshell_doctor; older material: the directories of the specs found)."""
    dirs = material.get("cdi_dirs")
    if isinstance(dirs, list) and dirs:
        return [str(d) for d in dirs]
    found = {str(s.get("path") or "").rsplit("/", 1)[0] for s in material.get("cdi_specs") or [] if isinstance(s, Mapping)}
    return sorted(d for d in found if d) or ["the CDI spec directories"]


def cdi_platform(material: Mapping[str, Any]) -> str:
    """The `nvidia-ctk cdi generate` mode of the host (module_utils.cdi.PLATFORMS), as far as the
    material shows it: WSL2, seen from /dev/dxg, else NVML."""
    return "wsl" if "/dev/dxg" in set(map(str, material.get("dev_nodes") or [])) else "nvml"


def missing_cdi_names(material: Mapping[str, Any], names: Iterable[str] | None = None) -> list[str] | None:
    """The CDI names the host's `nvidia-ctk cdi list` (or `names`) lacks for its GPUs under its
    device-name strategy (module_utils.cdi.missing_names, the nvidia_cdi role's rule); None when
    the list failed."""
    names = cdi_names(material) if names is None else list(names)
    if names is None:
        return None
    strategy = str(material.get("device_id_strategy") or "index")
    return cdi.missing_names(names, gpu_count(material) or 0, strategy, HOST_CDI_KIND, cdi_platform(material))


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


def node_for(host: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    names = {str(host.get("host"))}
    hn = command(host, "hostname")
    if succeeded(hn):
        names.add(hn["stdout"].strip())
        names.add(hn["stdout"].strip().split(".")[0])
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


def gpu_node_label(materials: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(key, value) of the label GPU hosts get (openshell_gpu_node_label, recorded by role
    openshell_doctor); the shared role's default when no material says."""
    hosts = list(materials.values()) if isinstance(materials, Mapping) else list(materials)
    label = next((str(m["gpu_node_label"]) for m in hosts if m.get("gpu_node_label")), "")
    key, _, value = (label or str(device_plugin.shared_defaults()["openshell_gpu_node_label"])).partition("=")
    return key, value


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
        if hc.get("name") == names.helmchart or hc.get("chart") == device_plugin.CHART_NAME:
            values = hc.get("values") or {}
            lst = values.get("deviceListStrategy")
            out.update(
                list=",".join(lst) if isinstance(lst, list) else lst,
                id=values.get("deviceIDStrategy", "uuid"),
                source="HelmChart values",
            )
            return out
    return out
