"""`openshell-auto doctor` and `verify` end to end on this machine (local connection), with
tests/doubles/kubectl-recorded standing in for `k3s kubectl`. This machine has no GPU, no
toolkit and no k3s, so the host checks must fail and say so; the cluster part comes from
recorded node JSON through the double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOUBLE = ROOT / "tests" / "doubles" / "kubectl-recorded" / "kubectl"
NODES = ROOT / "tests" / "data" / "nodes"


def _run(tmp: Path, command: str, nodes: str, *args: str,
         extra: dict | None = None) -> subprocess.CompletedProcess[str]:
    inv = tmp / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {"srv1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "openshell_gpu": True,
        "ansible_become": False}}}}}}))  # the plays' become turned off as an inventory may (no sudo here)
    kubectl = [sys.executable, str(DOUBLE), "--nodes", str(NODES / nodes), "--state", str(tmp / "state")]
    extra_vars = json.dumps({"openshell_kubectl": kubectl, "openshell_kubectl": kubectl,
                             "openshell_verify_smoke_timeout": 10, **(extra or {})})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "OPENSHELL_AUTO_RUNS_DIR": str(tmp / "runs")}
    return subprocess.run([sys.executable, "-m", "openshell_auto", command, "-i", str(inv), "-e", extra_vars, *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def test_doctor_bundle_and_findings(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    run = _run(tmp_path, "doctor", "gpu-on-one-of-three.json", "--json", "-o", str(bundle))
    assert run.returncode == 1, run.stderr  # this machine has no driver / toolkit: errors
    data = json.loads(run.stdout)
    checks = {(f["host"], f["check"]) for f in data["findings"] if f["severity"] == "error"}
    assert ("srv1", "driver") in checks and ("srv1", "toolkit") in checks
    assert ("srv1", "containerd-handler") in checks
    assert not any(f["check"] == "readiness" and f["severity"] == "error" for f in data["findings"])
    assert data["run_problems"] == []
    assert sorted(p.name for p in bundle.iterdir()) == ["findings.json", "hosts", "report.txt"]
    material = json.loads((bundle / "hosts" / "srv1.json").read_text())
    assert material["cluster"]["nodes"][1]["allocatable_gpu"] == "2"
    assert "k3s.io/node-args" not in (bundle / "hosts" / "srv1.json").read_text()
    assert "[error] driver:" in (bundle / "report.txt").read_text()
    again = _run(tmp_path, "doctor", "gpu-on-one-of-three.json", "-o", str(bundle))
    assert again.returncode == 2 and "directory is not empty" in again.stderr


def test_verify_table(tmp_path: Path) -> None:
    run = _run(tmp_path, "verify", "gpu-on-one-of-three.json")
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    rows = {tuple(line.split()[:3]) for line in lines[1:-1]}
    assert ("srv1", "driver", "FAIL") in rows
    assert ("cluster", "smoke-pod", "PASS") in rows  # the double runs the pod: nodes report GPUs
    assert ("node/gpu1", "allocatable-gpus", "PASS") in rows
    assert lines[-1].endswith("failed")


def test_bad_inventory_is_exit_2(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "openshell_auto", "verify", "-i", str(tmp_path / "missing.yml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2 and "missing.yml" in run.stderr


def test_doctor_gathers_from_the_configured_namespace_and_helmchart(tmp_path: Path) -> None:
    """A renamed namespace / HelmChart (inventory variables of role nvidia_device_plugin) is where
    the doctor looks: its kubectl calls and the material name them, not the defaults."""
    bundle = tmp_path / "bundle"
    extra = {"openshell_device_plugin_namespace": "gpu-plugins", "openshell_device_plugin_helmchart": "gpu-plugin"}
    run = _run(tmp_path, "doctor", "gpu-on-one-of-three.json", "--json", "-o", str(bundle), extra=extra)
    assert run.returncode == 1, run.stderr
    calls = (tmp_path / "state" / "calls.log").read_text()
    assert "get daemonset -n gpu-plugins" in calls
    assert "logs -n gpu-plugins -l app.kubernetes.io/name=nvidia-device-plugin" in calls
    assert "job/helm-install-gpu-plugin" in calls
    assert "nvidia-device-plugin -l" not in calls and "job/helm-install-nvidia-device-plugin" not in calls
    material = json.loads((bundle / "hosts" / "srv1.json").read_text())
    assert material["device_plugin"]["namespace"] == "gpu-plugins"
    messages = " ".join(f["message"] for f in json.loads(run.stdout)["findings"])
    assert "namespace gpu-plugins" in messages and "helm-install-gpu-plugin" in messages
