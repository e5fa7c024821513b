"""Raw material never reaches the run's events: the doctor's kubectl JSON (every pod's literal
environment, node annotations with k3s's arguments) and the sandboxes' environment values. The
doctor's findings still come out (the CLI reads the bundle, not the events)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from helpers import VENV_PATH

Run = subprocess.CompletedProcess[str]

ROOT = Path(__file__).resolve().parents[1]
DOUBLE = ROOT / "tests" / "doubles" / "kubectl-recorded" / "kubectl"
NODES = ROOT / "tests" / "data" / "nodes"
SECRET = "sandbox-env-secret-8f3a"


def _inventory(tmp: Path) -> Path:
    inv = tmp / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {"srv1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "openshell_gpu": True}}}}}}))
    return inv


def _kubectl(tmp: Path) -> list[str]:
    return [sys.executable, str(DOUBLE), "--nodes", str(NODES / "gpu-on-one-of-three.json"), "--state",
            str(tmp / "state")]


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
            "OPENSHELL_AUTO_RUNS_DIR": str(tmp / "runs"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_doctor_kubectl_json_stays_out_of_job_events(tmp_path: Path) -> None:
    extra = json.dumps({"openshell_kubectl": _kubectl(tmp_path)})
    run = subprocess.run([sys.executable, "-m", "openshell_auto", "doctor", "-i", str(_inventory(tmp_path)), "-e",
                          extra, "--json"], capture_output=True, text=True, env=_env(tmp_path), timeout=300,
                         check=False)
    assert run.returncode == 1, run.stderr
    findings = json.loads(run.stdout)["findings"]
    assert any(f["check"] == "driver" for f in findings)  # the doctor still reports
    events = list((tmp_path / "runs").rglob("job_events/*.json"))
    assert events
    raw = "\n".join(p.read_text() for p in events)
    # Raw node JSON carries the node-args annotation and status.allocatable as an object; the
    # doctor's findings (which do reach the events, through the verdict) name a check "allocatable".
    assert "k3s.io/node-args" not in raw and not re.search(r'"allocatable": ?\{', raw)


def test_sandbox_env_values_stay_out_of_the_output(run_play: Callable[..., Run], tmp_path: Path) -> None:
    sandboxes = [{"name": "cpu-box", "image": "docker.io/library/ubuntu:24.04", "env": {"API_KEY": SECRET}}]
    run = run_play(_inventory(tmp_path), ROOT / "playbooks" / "sandboxes.yml", "-vv", timeout=300,
                   extra_vars={"openshell_kubectl": _kubectl(tmp_path), "gpu_sandbox_ready_timeout": 0,
                               "gpu_sandbox_sandboxes": sandboxes},
                   env={"OPENSHELL_AUTO_RUNS_DIR": str(tmp_path / "runs"), **VENV_PATH})
    assert run.returncode == 0, run.stdout + run.stderr
    applied = [json.loads(p.read_text()) for p in (tmp_path / "state").glob("*.json")]
    assert SECRET in json.dumps(applied)  # applied as given
    assert SECRET not in run.stdout + run.stderr  # -vv prints every task result (what job_events hold)
