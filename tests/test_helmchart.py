"""The device-plugin HelmChart, rendered from the role's own template by openshell_auto.render
(Ansible's templating engine, role defaults + vars), parsed and compared value by value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from openshell_auto.render import render_inventory
from openshell_auto.rendered_files import RENDERED_FILES

INVENTORY = Path(__file__).resolve().parent.parent / "inventories" / "example" / "hosts.yml"
ENTRY = [e for e in RENDERED_FILES if e.role == "nvidia_device_plugin"]
MANIFEST = "/var/lib/rancher/k3s/server/manifests/nvidia-device-plugin.yaml"

BASE_VALUES: dict[str, Any] = {
    "runtimeClassName": "nvidia",
    "deviceListStrategy": "cdi-cri",
    "deviceIDStrategy": "index",
    "cdi": {"nvidiaHookPath": "/usr/bin/nvidia-cdi-hook"},
    "nvidiaDriverRoot": "/",
    "gfd": {"enabled": False},
    "nfd": {"enabled": False},
    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
}


def render(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    result = render_inventory(INVENTORY, tmp_path / "out", [json.dumps(extra)] if extra else [], registry=ENTRY)
    files = {h.host: dict(h.files) for h in result.hosts if h.files}
    assert list(files) == ["server1"], "the HelmChart is rendered on the first server only"
    return yaml.safe_load(files["server1"][MANIFEST].read_text())


def values_of(doc: dict[str, Any]) -> dict[str, Any]:
    values = doc["spec"]["valuesContent"]
    assert isinstance(values, str), "valuesContent must be a YAML string"
    parsed = yaml.safe_load(values)
    assert isinstance(parsed, dict)
    return parsed


def test_default_helmchart(tmp_path: Path) -> None:
    doc = render(tmp_path)
    assert doc["apiVersion"] == "helm.cattle.io/v1"
    assert doc["kind"] == "HelmChart"
    assert doc["metadata"] == {"name": "nvidia-device-plugin", "namespace": "kube-system"}
    spec = dict(doc["spec"])
    spec.pop("valuesContent")
    assert spec == {
        "repo": "https://nvidia.github.io/k8s-device-plugin",
        "chart": "nvidia-device-plugin",
        "version": "0.19.1",
        "targetNamespace": "nvidia-device-plugin",
        "createNamespace": True,
    }
    assert values_of(doc) == BASE_VALUES


def test_shared_settings_flow_into_values(tmp_path: Path) -> None:
    doc = render(tmp_path, openshell_device_id_strategy="uuid", openshell_cdi_hook_path="/opt/nv/nvidia-cdi-hook",
                 openshell_driver_root="/run/nvidia/driver", nvidia_device_plugin_chart_version="0.18.2")
    values = values_of(doc)
    assert values["deviceIDStrategy"] == "uuid"
    assert values["cdi"] == {"nvidiaHookPath": "/opt/nv/nvidia-cdi-hook"}
    assert values["nvidiaDriverRoot"] == "/run/nvidia/driver"
    assert doc["spec"]["version"] == "0.18.2"


@pytest.mark.parametrize("batch,unavailable", [(1, 1), ("3", 3), (2, 2), ("25%", "25%")])
def test_the_plugin_pods_are_replaced_in_batches_of_the_upgrade_setting(tmp_path: Path, batch: object,
                                                                       unavailable: object) -> None:
    """A chart change rolls like the other upgrades: openshell_upgrade_batch nodes at a time, as the
    DaemonSet's maxUnavailable (an int, or a percentage string; "3" as a string would be refused)."""
    values = values_of(render(tmp_path, openshell_upgrade_batch=batch))
    assert values["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": unavailable}}
    assert type(values["updateStrategy"]["rollingUpdate"]["maxUnavailable"]) is type(unavailable)


def test_extra_values_merge_recursively(tmp_path: Path) -> None:
    tolerations = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    doc = render(tmp_path, nvidia_device_plugin_extra_values={
        "tolerations": tolerations,
        "cdi": {"extra": "kept-beside-the-hook-path"},
        "gfd": {"enabled": True},
        "affinity": None,
        "resources": {"limits": {"memory": "256Mi"}},
    })
    values = values_of(doc)
    assert values == {
        **BASE_VALUES,
        "tolerations": tolerations,
        "cdi": {"nvidiaHookPath": "/usr/bin/nvidia-cdi-hook", "extra": "kept-beside-the-hook-path"},
        "gfd": {"enabled": True},
        "affinity": None,
        "resources": {"limits": {"memory": "256Mi"}},
    }


def test_mig_strategy(tmp_path: Path) -> None:
    assert values_of(render(tmp_path, nvidia_device_plugin_mig_strategy="mixed")) == {**BASE_VALUES,
                                                                                       "migStrategy": "mixed"}


def test_time_slicing_config(tmp_path: Path) -> None:
    values = values_of(render(tmp_path, nvidia_device_plugin_time_slicing_replicas=4))
    config = values.pop("config")
    assert values == BASE_VALUES
    assert config["default"] == "time-slicing"
    assert isinstance(config["map"]["time-slicing"], str), "the chart wants each config as a YAML string"
    assert yaml.safe_load(config["map"]["time-slicing"]) == {
        "version": "v1",
        "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}},
    }


def test_time_slicing_and_extra_values_together(tmp_path: Path) -> None:
    values = values_of(render(tmp_path, nvidia_device_plugin_time_slicing_replicas=2,
                              nvidia_device_plugin_extra_values={"config": {"default": "custom",
                                                                            "map": {"custom": "version: v1\n"}}}))
    # user values win over the shortcut, and both maps survive the recursive merge
    assert values["config"]["default"] == "custom"
    assert set(values["config"]["map"]) == {"time-slicing", "custom"}


def test_air_gapped_chart_from_static_dir(tmp_path: Path) -> None:
    doc = render(tmp_path, nvidia_device_plugin_chart_src="/srv/airgap/nvidia-device-plugin-0.19.1.tgz")
    spec = doc["spec"]
    assert spec["chart"] == "https://%{KUBERNETES_API}%/static/charts/nvidia-device-plugin-0.19.1.tgz"
    assert "repo" not in spec and "version" not in spec
    assert values_of(doc) == BASE_VALUES
