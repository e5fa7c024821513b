"""Hosts reached as a non-root user: every play that changes or reads root-owned state on the hosts
escalates with `become: true`, leaves the method and user to the inventory (sudo by default), and
steps on the controller never escalate there."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from helpers import REPO, VENV_PATH

Run = subprocess.CompletedProcess[str]

# Plays that touch no root-owned state on the hosts: classification (in-memory groups), the
# variable check (on the controller), the preflight (controller-side checksums; platform facts,
# which any user may read), and the verify/doctor verdicts (judging gathered facts).
NO_BECOME = {"classify.yml", "preflight.yml", "validate.yml"}
CONTROLLER_ONLY_PLAYS = {"Verdict (the checks openshell-auto verify prints; fails when one failed)",
                         "Verdict (the report openshell-auto doctor prints; fails on an error finding)"}
# Keywords that would override the inventory's choice of how to escalate.
OVERRIDES = ("become_method", "become_user", "become_exe", "become_flags")


def plays() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((REPO / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()) or []:
            if "hosts" in play:
                found.append((path.name, play))
    return found


def test_every_play_on_the_hosts_escalates_and_leaves_the_method_to_the_inventory() -> None:
    for name, play in plays():
        if name in NO_BECOME or play["name"] in CONTROLLER_ONLY_PLAYS:
            assert "become" not in play, (name, play["name"])
            continue
        assert play.get("become") is True, f"{name}: play {play['name']!r} has no `become: true`"
        for key in OVERRIDES:
            assert key not in play, (name, play["name"], key)


def _tasks(node: Any, inherited_become: Any = None) -> list[tuple[dict[str, Any], Any]]:
    """Every task with the become value it gets from itself or an enclosing block."""
    out: list[tuple[dict[str, Any], Any]] = []
    for task in node if isinstance(node, list) else []:
        if not isinstance(task, dict):
            continue
        become = task.get("become", inherited_become)
        out.append((task, become))
        for key in ("block", "rescue", "always"):
            out += _tasks(task.get(key), become)
    return out


def test_controller_steps_never_escalate_on_the_controller() -> None:
    """A task delegated to localhost under the plays' become would run sudo on the controller."""
    files = sorted(REPO.glob("roles/*/tasks/*.yml")) + sorted(REPO.glob("roles/*/handlers/*.yml"))
    checked = 0
    for path in files:
        for task, become in _tasks(yaml.safe_load(path.read_text())):
            text = yaml.safe_dump(task)
            for key in OVERRIDES:
                assert key not in task, (path, task.get("name"), key)
            if task.get("delegate_to") in ("localhost", "127.0.0.1") or "local_action" in task:
                checked += 1
                assert become is False, f"{path.relative_to(REPO)}: {task.get('name')!r} needs `become: false`\n{text}"
    assert checked >= 7  # the air-gap lookups are one task of role openshell (tasks/verify_inputs.yml)


FAKE_SUDO = r"""#!/bin/sh
# Stands in for sudo with the command line Ansible's sudo become plugin (ansible.builtin.sudo,
# ansible-core lib/ansible/plugins/become/sudo.py) builds: `sudo -H -S -n -u <user> /bin/sh -c '<cmd>'`.
# Records the flags and target user, then runs the command as the calling user (no real escalation).
echo "$*" | cut -c1-40 >> "$(dirname "$0")/sudo.log"
while [ $# -gt 0 ]; do
  case "$1" in
    -u) shift; echo "user=$1" >> "$(dirname "$0")/sudo.log"; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
exec "$@"
"""


def test_a_play_escalates_with_the_inventorys_become_settings(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """doctor.yml over a local-connection host whose inventory names its own become_exe and
    become_user: the play escalates through them (before: no escalation at all)."""
    sudo = tmp_path / "fake-sudo"
    sudo.write_text(FAKE_SUDO)
    sudo.chmod(sudo.stat().st_mode | stat.S_IXUSR)
    inventory = yaml.safe_dump({"all": {"children": {"openshell_servers": {"hosts": {"srv1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "openshell_gpu": True,
        "ansible_become_exe": str(sudo), "ansible_become_user": "root"}}}}}})
    double = REPO / "tests" / "doubles" / "kubectl-recorded" / "kubectl"
    kubectl = [sys.executable, str(double), "--nodes", str(REPO / "tests" / "data" / "nodes" / "gpu-on-one-of-three.json"),
               "--state", str(tmp_path / "state")]
    # This machine has no driver: the doctor's verdict would fail the run; only escalation is tested here.
    # Ansible skips become when the become user is the connecting user (root running the tests):
    # allow it, so the escalation shows here as it does for a non-root login.
    result = run_play(inventory, REPO / "playbooks" / "doctor.yml", timeout=300,
                      extra_vars={"openshell_kubectl": kubectl, "openshell_doctor_fail": False},
                      env={"ANSIBLE_BECOME_ALLOW_SAME_USER": "true", **VENV_PATH})
    assert result.returncode == 0, result.stdout + result.stderr
    log = (tmp_path / "sudo.log").read_text() if (tmp_path / "sudo.log").exists() else ""
    assert "user=root" in log.splitlines(), log
    assert "-H -S -n -u root" in log, log
