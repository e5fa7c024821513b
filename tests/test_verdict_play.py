"""verify.yml and doctor.yml give their verdict in Ansible itself: under plain ansible-playbook a
failed check fails the run, the play prints the table the CLI prints, and set_stats carries the
result (what AWX shows). Local connection, tests/doubles/kubectl-recorded for `k3s kubectl`; this
machine has no GPU driver or toolkit, so the host checks fail."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from helpers import REPO, ansible_env

Run = subprocess.CompletedProcess[str]

DOUBLE = REPO / "tests" / "doubles" / "kubectl-recorded" / "kubectl"
NODES = REPO / "tests" / "data" / "nodes" / "gpu-on-one-of-three.json"


def _inventory(tmp: Path) -> Path:
    inv = tmp / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {"srv1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "openshell_gpu": True}}}}}}))
    return inv


def _extra(tmp: Path) -> str:
    kubectl = [sys.executable, str(DOUBLE), "--nodes", str(NODES), "--state", str(tmp / "state")]
    return json.dumps({"openshell_kubectl": kubectl, "openshell_kubectl": kubectl,
                       "openshell_verify_smoke_timeout": 10})


def _play(run_play: Callable[..., Run], tmp: Path, playbook: str, *extra: str) -> Run:
    return run_play(_inventory(tmp), REPO / "playbooks" / playbook, "-e", _extra(tmp), *extra, timeout=300,
                    env={"ANSIBLE_SHOW_CUSTOM_STATS": "true", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
                         "ANSIBLE_STDOUT_CALLBACK": "default"})


def _stats(out: str) -> dict[str, object]:
    text = out.split("CUSTOM STATS:", 1)[1]
    return json.loads(text[text.index("{"):text.rindex("}") + 1])


def test_verify_play_fails_with_the_cli_table_and_stats(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _play(run_play, tmp_path, "verify.yml")
    assert run.returncode == 2, run.stdout[-3000:]  # a failed task: ansible-playbook's exit 2
    assert "verify failed: srv1 driver:" in run.stdout
    stats = _stats(run.stdout)["openshell_verify"]
    assert stats["passed"] is False
    failed = {(c["host"], c["check"]) for c in stats["checks"] if not c["ok"]}
    assert ("srv1", "driver") in failed
    cli = subprocess.run([sys.executable, "-m", "openshell_auto", "verify", "-i", str(_inventory(tmp_path)),
                          "-e", _extra(tmp_path), "--artifacts-dir", str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=300, env=ansible_env())
    assert cli.returncode == 1, cli.stderr
    for line in cli.stdout.splitlines():  # every row the CLI prints, the play printed too
        assert json.dumps(line)[1:-1] in run.stdout, line


def test_doctor_play_fails_on_error_findings_with_stats(run_play: Callable[..., Run], tmp_path: Path) -> None:
    run = _play(run_play, tmp_path, "doctor.yml")
    assert run.returncode == 2, run.stdout[-3000:]
    message = run.stdout.split("doctor found errors: ", 1)[1].split("\n", 1)[0]
    assert "srv1 driver: no NVIDIA driver found" in message, message
    stats = _stats(run.stdout)["openshell_doctor"]
    assert stats["passed"] is False
    assert {"srv1"} <= {f["host"] for f in stats["findings"] if f["severity"] == "error"}


def test_the_cli_turns_the_play_verdict_off(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """The CLI prints its own table and exit code: the verdict task is not a run problem."""
    run = _play(run_play, tmp_path, "doctor.yml", "-e", "openshell_doctor_fail=false")
    assert "doctor found errors" not in run.stdout
    assert run.returncode == 0, run.stdout[-3000:]
