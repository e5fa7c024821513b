"""Verify checks and table from recorded material (tests/data/doctor/healthy-2gpu.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import verify

DATA = Path(__file__).parent / "data" / "doctor"

SMOKE_OK = {
    "ran": True, "reason": "", "phase": "Succeeded",
    "apply": {"rc": 0, "stdout": "pod/openshell-gpu-smoke created", "stderr": ""},
    "wait": {"rc": 0, "stdout": "Succeeded", "stderr": ""},
    "logs": {"rc": 0, "stdout": "GPU 0: NVIDIA L40S (UUID: GPU-4c3b1f0e-8a47-2f0b-5c1e-3d9a1b7e6f20)", "stderr": ""},
    "delete": {"rc": 0, "stdout": 'pod "openshell-gpu-smoke" deleted', "stderr": ""},
}


@pytest.fixture
def healthy() -> dict[str, Any]:
    m = json.loads((DATA / "healthy-2gpu.json").read_text())
    m["server1"]["cluster"]["smoke"] = json.loads(json.dumps(SMOKE_OK))
    return m


def _check(checks: list[verify.Check], host: str, name: str) -> verify.Check:
    (hit,) = [c for c in checks if c.host == host and c.check == name]
    return hit


def test_healthy_all_pass(healthy: dict[str, Any]) -> None:
    checks = verify.evaluate(healthy)
    assert verify.passed(checks), [c for c in checks if not c.ok]
    names = [(c.host, c.check) for c in checks]
    assert names == [
        ("server1", "driver"), ("server1", "toolkit"), ("server1", "cdi-names"), ("server1", "refresh-units"),
        ("server1", "containerd-nvidia"), ("cluster", "device-plugin"), ("node/server1", "allocatable-gpus"),
        ("node/agent1", "allocatable-gpus"), ("cluster", "smoke-pod"),
    ]
    assert _check(checks, "server1", "driver").detail == "driver 580.95.05, 2 GPU(s)"
    assert _check(checks, "server1", "toolkit").detail == "nvidia-ctk 1.18.2"
    assert "DEVICE_LIST_STRATEGY=cdi-cri (daemonset env)" in _check(checks, "cluster", "device-plugin").detail
    assert _check(checks, "cluster", "smoke-pod").detail.startswith("nvidia-smi -L: GPU 0: NVIDIA L40S")


def test_table_and_json(healthy: dict[str, Any]) -> None:
    healthy["server1"]["containerd"]["nvidia"] = False
    checks = verify.evaluate(healthy)
    text = verify.table_text(checks)
    lines = text.splitlines()
    assert lines[0].split() == ["HOST", "CHECK", "RESULT", "DETAIL"]
    assert any(line.split()[:3] == ["server1", "containerd-nvidia", "FAIL"] for line in lines)
    assert lines[-1] == "8 passed, 1 failed"
    data = json.loads(verify.to_json(checks))
    assert data["passed"] is False and len(data["checks"]) == 9


@pytest.mark.parametrize(
    "mutate,host,check,fragment",
    [
        (lambda m: m["server1"]["commands"]["nvidia_smi_query"].update(rc=9, stdout="")
         or m["server1"]["commands"]["driver_version_file"].update(rc=1, stdout=""), "server1", "driver", "no NVIDIA driver"),
        (lambda m: m["server1"].update(packages={}) or m["server1"]["commands"]["nvidia_ctk_version"].update(rc=127),
         "server1", "toolkit", "not found"),
        (lambda m: m["server1"]["commands"]["cdi_list"].update(stdout="nvidia.com/gpu=0\nnvidia.com/gpu=all"),
         "server1", "cdi-names", "missing nvidia.com/gpu=1"),
        (lambda m: m["server1"]["commands"]["refresh_path_active"].update(stdout="inactive"), "server1", "refresh-units",
         "enabled/inactive"),
        (lambda m: m["server1"]["cluster"]["daemonsets"][0]["env"].update(DEVICE_LIST_STRATEGY="envvar"), "cluster",
         "device-plugin", "DEVICE_LIST_STRATEGY=envvar"),
        (lambda m: m["server1"]["cluster"]["daemonsets"][0].update(ready=0), "cluster", "device-plugin", "0/1 ready"),
        (lambda m: m["server1"]["cluster"]["nodes"][0].update(allocatable_gpu="0"), "node/server1", "allocatable-gpus",
         "nvidia.com/gpu=0 (GPU host)"),
        (lambda m: m["server1"]["cluster"].update(smoke={"ran": False, "reason": "no node reports allocatable nvidia.com/gpu"}),
         "cluster", "smoke-pod", "smoke pod not run: no node reports"),
        (lambda m: m["server1"]["cluster"]["smoke"].update(phase="Failed", logs={"rc": 0, "stdout": "Failed to initialize NVML"}),
         "cluster", "smoke-pod", "phase Failed; no GPU line in the log (Failed to initialize NVML)"),
        (lambda m: m["server1"]["cluster"]["smoke"].update(delete={"rc": 1, "stderr": "refused"}),
         "cluster", "smoke-pod", "NOT deleted"),
        (lambda m: m["server1"]["cluster"]["smoke"].update(
            apply={"rc": 1, "stderr": "error: pods \"x\" is forbidden: exceeded quota"}, delete={"rc": 1}),
         "cluster", "smoke-pod", "not created: `kubectl apply` failed: error: pods"),
    ],
)
def test_each_failure_is_reported(healthy: dict[str, Any], mutate: Any, host: str, check: str, fragment: str) -> None:
    mutate(healthy)
    checks = verify.evaluate(healthy)
    c = _check(checks, host, check)
    assert not c.ok and fragment in c.detail, c
    assert not verify.passed(checks)
    assert sum(1 for x in checks if not x.ok) == 1


def test_no_cluster_and_no_nodes(healthy: dict[str, Any]) -> None:
    healthy["server1"]["cluster"]["nodes"] = None
    checks = verify.evaluate(healthy)
    assert _check(checks, "cluster", "api").ok is False
    healthy["server1"]["cluster"] = None
    assert _check(verify.evaluate(healthy), "cluster", "api").detail.startswith("no cluster material")


def test_empty_is_not_a_pass() -> None:
    assert verify.passed([]) is False


def test_renamed_plugin_namespace_and_helmchart(healthy: dict[str, Any]) -> None:
    """The HelmChart as configured (openshell_device_plugin_helmchart, chart from the static dir)
    gives the list strategy; a missing DaemonSet is looked for in the configured namespace."""
    for m in healthy.values():
        m["device_plugin"] = {"namespace": "gpu-plugins", "helmchart": "gpu-plugin"}
    cl = healthy["server1"]["cluster"]
    cl["helmcharts"][0].update(name="gpu-plugin", chart="https://%{KUBERNETES_API}%/static/charts/nvidia-device-plugin-0.19.1.tgz")
    cl["daemonsets"][0].update(namespace="gpu-plugins", env={})
    checks = {(c.host, c.check): c for c in verify.evaluate(healthy)}
    assert checks[("cluster", "device-plugin")].ok, checks[("cluster", "device-plugin")].detail
    cl["daemonsets"] = []
    assert verify.evaluate(healthy) and "in gpu-plugins" in {
        (c.host, c.check): c for c in verify.evaluate(healthy)}[("cluster", "device-plugin")].detail
