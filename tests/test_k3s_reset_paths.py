"""roles/k3s/tasks/reset_paths.yml: reset refuses, before anything is stopped or removed, a path
that is relative, not normalised, holds shell syntax, or is a system directory; the shell tasks of
uninstall.yml never paste a value into their script. Runs the task file on localhost (it only
asserts; nothing on this machine is touched)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import yaml

from helpers import REPO, ROLE_TEST_ENV

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the reset paths
      ansible.builtin.include_role:
        name: k3s
        tasks_from: reset_paths.yml
"""


INVENTORY = ("all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost:\n"
             "          ansible_connection: local\n")
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("name,value,problem", [
    ("k3s_data_dir", "/", "system directory"),
    ("k3s_data_dir", "/var", "system directory"),
    ("k3s_config_dir", "/etc", "system directory"),
    ("k3s_data_dir", "/var/lib/k3s'; touch /tmp/owned; '", "cannot take"),
    ("k3s_data_dir", "var/lib/k3s", "not absolute"),
    ("k3s_install_dir", "/usr/../bin", "not normalised"),
])
def test_reset_refuses_dangerous_paths(run_play: Run, name: str, value: str, problem: str) -> None:
    result = run_play(INVENTORY, PLAYBOOK, extra_vars={name: value}, env=ROLE_TEST_ENV, timeout=300)
    assert result.returncode == 2, result.stdout
    assert "reset refuses" in result.stdout and f"{name}: " in result.stdout and problem in result.stdout


def test_reset_accepts_the_default_paths(run_play: Run) -> None:
    result = run_play(INVENTORY, PLAYBOOK, extra_vars={}, env=ROLE_TEST_ENV, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_uninstall_checks_paths_first_and_pastes_no_value_into_a_shell() -> None:
    tasks = yaml.safe_load((REPO / "roles/k3s/tasks/uninstall.yml").read_text())
    assert tasks[0].get("ansible.builtin.include_tasks") == "reset_paths.yml"
    for task in tasks:
        shell = task.get("ansible.builtin.shell")
        if shell:
            assert "{{" not in shell["cmd"], task["name"]
    reset = yaml.safe_load((REPO / "playbooks/reset.yml").read_text())
    removal = next(p for p in reset if p.get("name") == "Remove the device-plugin manifest")
    assert removal["tasks"][0]["ansible.builtin.include_role"]["tasks_from"] == "reset_paths.yml"
