"""roles/k3s/tasks/wait_ready.yml: after a (re)start the role waits until the running k3s process
reported the node Ready (a heartbeat newer than the unit's ExecMainStartTimestamp) on the release
it installed. The API keeps a restarted node Ready, on the old release, for node-monitor-grace-period
(50 s since Kubernetes 1.32): Ready alone is no evidence (the flaky upgrade check this replaced).

Runs the task file with ansible-playbook on localhost. Two stand-ins on a temp PATH, each printing
only what the role reads: `systemctl show --property=ExecMainStartTimestamp --value k3s` (systemd's
timestamp form, "Fri 2026-11-27 07:52:53 UTC" under TZ=UTC) and `k3s kubectl get node NAME -o json`
(a v1 Node from a JSON file, and another from the second question on, as the API changes when
the new process posts)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import ROLE_TEST_ENV, ansible_env

Run = subprocess.CompletedProcess[str]

START = "Fri 2026-11-27 07:52:53 UTC"  # what systemctl prints for the running k3s
OLD, NEW = "v1.35.2+k3s1", "v1.35.3+k3s1"

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Wait for the node
      ansible.builtin.include_role:
        name: k3s
        tasks_from: wait_ready.yml
"""

SYSTEMCTL = """#!/bin/sh
# stand-in for: systemctl show --property=ExecMainStartTimestamp --value <unit> (empty: not started)
[ "$1 $2 $3 $4" = "show --property=ExecMainStartTimestamp --value {unit}" ] || exit 1
[ "$TZ" = UTC ] || exit 1
echo '{start}'
"""

K3S = """#!{python}
# stand-in for: k3s kubectl get node <name> -o json (answers from node.json; once node.json has
# been read, from later.json when there is one: the API after the new process posted)
import os, sys
args = sys.argv[1:]
if args[:3] != ["kubectl", "get", "node"] or args[4:] != ["-o", "json"]:
    sys.exit(1)
later, seen = {node!r} + ".later", {node!r} + ".seen"
text = open(later if os.path.exists(later) and os.path.exists(seen) else {node!r}).read()
open(seen, "w").close()
if not text:
    sys.exit("The connection to the server 127.0.0.1:6443 was refused")
sys.stdout.write(text)
"""


def _node(heartbeat: str, version: str, ready: str = "True") -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "localhost"},
        "status": {
            "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                            "lastHeartbeatTime": heartbeat}],
            "nodeInfo": {"kubeletVersion": version},
        },
    })


@pytest.fixture
def run_wait(run_play: Callable[..., Run], tmp_path: Path) -> Callable[..., Run]:
    """Run wait_ready.yml; the API answers `node`, and `later` from the second question on."""

    def run(node: str, retries: int = 10, later: str | None = None, start: str = START) -> Run:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        node_file = tmp_path / "node.json"
        node_file.write_text(node)
        (bin_dir / "systemctl").write_text(SYSTEMCTL.format(start=start, unit="k3s"))
        (bin_dir / "k3s").write_text(K3S.format(python=sys.executable, node=str(node_file)))
        for tool in bin_dir.iterdir():
            tool.chmod(0o755)
        inventory = (
            "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
            "  hosts:\n    localhost:\n      ansible_connection: local\n"
            f"      ansible_python_interpreter: {sys.executable}\n"
            "      openshell_first_server: localhost\n      k3s_api_endpoint: 127.0.0.1\n"
            f"      k3s_install_dir: {bin_dir}\n      k3s_version: {NEW}\n"
            f"      k3s_ready_retries: {retries}\n      k3s_ready_delay: 1\n")
        if later is not None:
            (tmp_path / "node.json.later").write_text(later)
        return run_play(inventory, PLAYBOOK, timeout=180,
                        env={**ROLE_TEST_ENV, "PATH": f"{bin_dir}:{ansible_env()['PATH']}"})

    return run


def test_waits_past_the_ready_left_from_before_the_restart(run_wait: Callable[..., Run]) -> None:
    """Ready on the old release with a heartbeat from before this start: the role keeps asking until
    the new process posts (fresh heartbeat, new release)."""
    run = run_wait(_node("2026-11-27T07:52:40Z", OLD),
               later=_node("2026-11-27T07:52:58Z", NEW))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RETRYING" in run.stdout


def test_a_fresh_heartbeat_passes_at_once(run_wait: Callable[..., Run]) -> None:
    run = run_wait(_node("2026-11-27T07:52:58Z", NEW))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RETRYING" not in run.stdout


def test_a_heartbeat_in_the_second_of_the_start_does_not_count(run_wait: Callable[..., Run]) -> None:
    """Both sides have whole seconds: a post in the second of the restart may be the old process's."""
    run = run_wait(_node("2026-11-27T07:52:53Z", NEW), retries=2)
    assert run.returncode != 0
    assert "last heartbeat 2026-11-27T07:52:53Z" in run.stdout
    assert "this start of k3s: 2026-11-27T07:52:53Z" in run.stdout


def test_the_wrong_release_fails_naming_both(run_wait: Callable[..., Run]) -> None:
    """The running k3s posts, Ready, but on another release than the role installed."""
    run = run_wait(_node("2026-11-27T07:52:58Z", OLD), retries=2)
    assert run.returncode != 0
    assert f"release {OLD} (wanted {NEW})" in run.stdout
    assert "journalctl -u k3s" in run.stdout


def test_not_ready_fails_with_the_condition(run_wait: Callable[..., Run]) -> None:
    run = run_wait(_node("2026-11-27T07:52:58Z", NEW, ready="False"), retries=2)
    assert run.returncode != 0
    assert "Ready=False (KubeletReady)" in run.stdout


def test_an_api_that_does_not_answer_fails_with_its_error(run_wait: Callable[..., Run]) -> None:
    """k3s kubectl exits 1 (API not up): the message carries kubectl's error, not a JSON failure."""
    run = run_wait("", retries=2)
    assert run.returncode != 0
    assert "Last answer: " in run.stdout and "Ready=" not in run.stdout
    assert "journalctl -u k3s" in run.stdout


def test_a_unit_that_is_not_running_fails_naming_it(run_wait: Callable[..., Run]) -> None:
    """systemd prints an empty ExecMainStartTimestamp for a unit that never started."""
    run = run_wait(_node("2026-11-27T07:52:58Z", NEW), start="")
    assert run.returncode != 0
    assert "systemd has no start time for k3s" in run.stdout and "systemctl status k3s" in run.stdout
