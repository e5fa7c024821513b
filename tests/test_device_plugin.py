"""ansible_collections.openshell_auto.cluster.plugins.module_utils.device_plugin: the device plugin's sharing rules (NVIDIA/k8s-device-plugin v0.19.1)
and what each GPU node should advertise, as the role's wait and the CLI use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import device_plugin as dp

REPO = Path(__file__).resolve().parent.parent


def _nodes(**alloc: dict) -> str:
    return json.dumps({"items": [{"metadata": {"name": n}, "status": {"allocatable": a}} for n, a in alloc.items()]})


@pytest.mark.parametrize(("replicas", "mig", "ok"), [
    (0, "", True), (2, "", True), (16, "mixed", True), (0, "single", True), (0, "none", True),
    (1, "", False), (-1, "", False), ("x", "", False), (0, "all", False), (0, "Mixed", False),
])
def test_sharing_problems_follow_the_plugin(replicas: object, mig: object, ok: bool) -> None:
    assert (dp.sharing_problems(replicas, mig) == []) is ok


def test_expected_allocatable_is_gpus_times_replicas() -> None:
    assert dp.expected_gpus(2).count == 2
    assert dp.expected_gpus(2, 4).count == 8
    assert dp.expected_gpus("3", "2").count == 6
    assert dp.expected_gpus(2, 0, "none").count == 2
    assert dp.expected_gpus(2, 4, "single").count is None  # MIG devices: only NVML knows


def test_allocatable_mismatches() -> None:
    doc = _nodes(gpu1={"nvidia.com/gpu": "8"}, gpu2={"nvidia.com/gpu": "2"}, cpu={"cpu": "2"})
    assert dp.allocatable_mismatches(doc, {"gpu1": 2, "gpu2": 2}, 4) == [
        "gpu2 has {'nvidia.com/gpu': '2'} (expected nvidia.com/gpu=8)"]
    assert dp.allocatable_mismatches(doc, {"gpu1": 8}, 0) == []
    assert dp.allocatable_mismatches(doc, {"gone": 1}) == ["gone is not a node (expected nvidia.com/gpu=1)"]
    mixed = _nodes(a100={"nvidia.com/mig-1g.10gb": "7"}, none={"nvidia.com/gpu": "0"})
    assert dp.allocatable_mismatches(mixed, {"a100": 1}, 0, "mixed") == []
    assert dp.allocatable_mismatches(mixed, {"none": 1}, 0, "mixed") == [
        "none has {'nvidia.com/gpu': '0'} (expected nvidia.com/gpu or nvidia.com/mig-<profile> > 0)"]


def test_python_reads_the_shared_role_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the doctor and verify fall back on are the shared role's defaults, read from its file."""
    assert dp.SHARED_DEFAULTS == REPO / "roles" / "openshell" / "defaults" / "main.yml"
    defaults = yaml.safe_load(dp.SHARED_DEFAULTS.read_text())
    names = dp.plugin_names()
    assert (names.namespace, names.helmchart) == (defaults["openshell_device_plugin_namespace"],
                                                  defaults["openshell_device_plugin_helmchart"])
    other = tmp_path / "main.yml"
    other.write_text("openshell_device_plugin_namespace: ns-b\nopenshell_device_plugin_helmchart: hc-b\n")
    monkeypatch.setattr(dp, "SHARED_DEFAULTS", other)
    dp.shared_defaults.cache_clear()
    try:
        assert dp.plugin_names().to_dict()["helm_job"] == "helm-install-hc-b" and dp.plugin_names().namespace == "ns-b"
        assert dp.plugin_names("gpu-plugins", "gpu").namespace == "gpu-plugins"
    finally:
        dp.shared_defaults.cache_clear()


def test_plugin_names() -> None:
    assert dp.plugin_names().to_dict() == {"namespace": "nvidia-device-plugin", "helmchart": "nvidia-device-plugin",
                                           "helm_job": "helm-install-nvidia-device-plugin",
                                           "label": "app.kubernetes.io/name=nvidia-device-plugin"}
    assert dp.plugin_names("gpu-plugins", "gpu").helm_job == "helm-install-gpu"
    assert dp.plugin_names("", None).namespace == "nvidia-device-plugin"
