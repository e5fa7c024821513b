"""Roles gpu_sandbox and openshell_verify run by ansible-playbook on this machine (local
connection), with tests/doubles/kubectl-recorded standing in for `k3s kubectl`. Proves: one
renderer (the role applies exactly what `openshell-auto sandbox render` prints), GPU sandboxes
refused on a cluster without allocatable GPUs (nothing applied), idempotency, check mode, and
the smoke pod's create -> wait -> log -> delete flow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import sandbox

from helpers import VENV_PATH

Run = subprocess.CompletedProcess[str]

ROOT = Path(__file__).resolve().parents[1]
DOUBLE = ROOT / "tests" / "doubles" / "kubectl-recorded" / "kubectl"
NODES = ROOT / "tests" / "data" / "nodes"

pytestmark = pytest.mark.skipif(shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None
                                and shutil.which("ansible-playbook") is None, reason="ansible-playbook not installed")

SANDBOXES: list[dict[str, Any]] = [
    {"name": "cpu-box", "image": "docker.io/library/ubuntu:24.04", "command": ["sleep", "infinity"],
     "env": {"NOTE": "a: {b}\n\"c\""}},
    {"name": "gpu-box", "namespace": "agents", "image": "nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04", "gpus": 1},
]


# This machine has no driver or toolkit, so the plays' verdicts would fail the run; these tests
# look at the gathering and the smoke pod (tests/test_verdict_play.py covers the verdicts).
NO_VERDICT = {"openshell_verify_fail": False, "openshell_doctor_fail": False}

def _playbook(run_play: Callable[..., Run], tmp: Path, playbook: str, nodes: str, extra: dict[str, Any],
              *args: str) -> Run:
    # The plays' become turned off as an inventory may (no sudo here).
    inventory = yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {"srv1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "openshell_gpu": True,
        "ansible_become": False}}}}}})
    kubectl = [sys.executable, str(DOUBLE), "--nodes", str(NODES / nodes), "--state", str(tmp / "state")]
    variables = {"openshell_kubectl": kubectl, "gpu_sandbox_ready_timeout": 0, **extra}
    return run_play(inventory, ROOT / "playbooks" / playbook, *args, extra_vars=variables, env=VENV_PATH,
                    timeout=300)


def _recap(out: str) -> dict[str, int]:
    line = next(line for line in out.splitlines() if line.startswith("srv1") and "ok=" in line)
    return {k: int(v) for k, v in (p.split("=") for p in line.split()[2:])}


def _applied(tmp: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp / "state").glob("*.json"))]


def test_sandboxes_applied_with_the_cli_renderer_and_idempotent(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _playbook(run_play, tmp_path, "sandboxes.yml", "gpu-on-one-of-three.json", {"gpu_sandbox_sandboxes": SANDBOXES})
    assert run.returncode == 0, run.stdout + run.stderr
    assert _recap(run.stdout)["changed"] == 1
    expected = sandbox.render_pods(sandbox.parse_sandboxes(SANDBOXES))
    by_name = {p["metadata"]["name"]: p for p in _applied(tmp_path)}
    assert by_name == {p["metadata"]["name"]: p for p in expected}
    assert by_name["cpu-box"]["spec"]["containers"][0]["env"][0]["value"] == "a: {b}\n\"c\""
    again = _playbook(run_play, tmp_path, "sandboxes.yml", "gpu-on-one-of-three.json", {"gpu_sandbox_sandboxes": SANDBOXES})
    assert again.returncode == 0 and _recap(again.stdout)["changed"] == 0, again.stdout


@pytest.mark.parametrize("nodes", ["zero-gpus.json", "runtimeclass-no-gpus.json", "allocatable-zero.json"])
def test_gpu_sandbox_refused_without_allocatable_gpus(run_play: Callable[..., Run], tmp_path: Path, nodes: str) -> None:
    run = _playbook(run_play, tmp_path, "sandboxes.yml", nodes, {"gpu_sandbox_sandboxes": SANDBOXES})
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "GPU sandbox requested, but the cluster is not GPU-enabled" in out
    assert "openshell-auto doctor" in out and "agents/gpu-box" in out
    assert _applied(tmp_path) == []  # nothing applied, CPU sandbox included


def test_cpu_sandboxes_need_no_gpus(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _playbook(run_play, tmp_path, "sandboxes.yml", "zero-gpus.json", {"gpu_sandbox_sandboxes": SANDBOXES[:1]})
    assert run.returncode == 0, run.stdout
    assert [p["metadata"]["name"] for p in _applied(tmp_path)] == ["cpu-box"]
    assert "get nodes" not in (tmp_path / "state" / "calls.log").read_text()


def test_bad_sandbox_fails_naming_the_field(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _playbook(run_play, tmp_path, "sandboxes.yml", "gpu-on-one-of-three.json",
                    {"gpu_sandbox_sandboxes": [{"name": "Bad_Name", "image": "ubuntu"}]})
    assert run.returncode != 0
    assert "gpu_sandbox_sandboxes: sandboxes[0] (Bad_Name).name" in run.stdout + run.stderr


def test_check_mode_applies_nothing(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _playbook(run_play, tmp_path, "sandboxes.yml", "gpu-on-one-of-three.json", {"gpu_sandbox_sandboxes": SANDBOXES}, "--check")
    assert run.returncode == 0, run.stdout
    assert _applied(tmp_path) == []


def test_verify_smoke_pod_created_checked_and_deleted(run_play: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _playbook(run_play, tmp_path, "verify.yml", "gpu-on-one-of-three.json",
                    {"openshell_verify_output_dir": str(out), "openshell_doctor_output_dir": str(out),
                     "openshell_verify_smoke_timeout": 10, **NO_VERDICT})
    assert run.returncode == 0, run.stdout + run.stderr
    smoke = json.loads((out / "smoke.json").read_text())
    assert smoke["ran"] is True and smoke["phase"] == "Succeeded"
    assert smoke["logs"]["stdout"].startswith("GPU 0: ")
    assert smoke["manifest"] == sandbox.smoke_pod()
    assert "runtimeClassName" not in smoke["manifest"]["spec"]
    assert smoke["delete"]["rc"] == 0 and _applied(tmp_path) == []
    material = json.loads((out / "hosts" / "srv1.json").read_text())
    assert material["cluster"]["nodes"][1]["allocatable_gpu"] == "2"


def test_verify_smoke_pod_skipped_without_gpus(run_play: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _playbook(run_play, tmp_path, "verify.yml", "zero-gpus.json", {"openshell_verify_output_dir": str(out), **NO_VERDICT})
    assert run.returncode == 0, run.stdout
    smoke = json.loads((out / "smoke.json").read_text())
    assert smoke["ran"] is False and "not GPU-enabled" in smoke["reason"]
    assert "apply" not in (tmp_path / "state" / "calls.log").read_text()


def test_doctor_playbook_changes_nothing_and_works_in_check_mode(run_play: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _playbook(run_play, tmp_path, "doctor.yml", "gpu-on-one-of-three.json",
                    {"openshell_doctor_output_dir": str(out), **NO_VERDICT}, "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    recap = _recap(run.stdout)
    assert recap["changed"] == 0 and recap["failed"] == 0
    material = json.loads((out / "hosts" / "srv1.json").read_text())
    assert material["gpu"] is True and material["first_server"] is True
    assert material["commands"]["cdi_list"]["rc"] != 0  # no toolkit on this machine: recorded, not fatal
    assert [n["name"] for n in material["cluster"]["nodes"]] == ["srv1", "gpu1", "agent2"]


def test_readiness_is_retried_before_refusing(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _playbook(run_play, tmp_path, "sandboxes.yml", "zero-gpus.json",
                    {"gpu_sandbox_sandboxes": SANDBOXES[1:], "gpu_sandbox_ready_timeout": 5})
    assert run.returncode != 0 and "not GPU-enabled" in run.stdout
    assert (tmp_path / "state" / "calls.log").read_text().count("get nodes -o json") == 2  # first try + 1 retry
