"""roles/k3s/tasks/verify_inputs.yml: the k3s air-gap files are checked on the controller once per
run; a later check in the same run (another play of site.yml, after playbooks/preflight.yml) skips
in one announced step, and a wrong binary is still refused the first time. Runs on localhost;
the files live under tmp_path."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from helpers import ROLE_TEST_ENV

Run = subprocess.CompletedProcess[str]

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: First check
      ansible.builtin.include_role:
        name: k3s
        tasks_from: verify_inputs.yml
    - name: Second check
      ansible.builtin.include_role:
        name: k3s
        tasks_from: verify_inputs.yml
"""


def run_checks(run_play: Callable[..., Run], tmp_path: Path, listed: bytes) -> Run:
    binary = tmp_path / "k3s"
    binary.write_bytes(b"k3s binary\n")
    sums = tmp_path / "sha256sum-amd64.txt"
    sums.write_text(f"{hashlib.sha256(listed).hexdigest()}  k3s\n")
    inventory = (
        "all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost: {}\n"
        "  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      openshell_first_server: localhost\n"
        f"      k3s_binary_src: {binary}\n      k3s_checksum_src: {sums}\n      k3s_arch: amd64\n")
    return run_play(inventory, PLAYBOOK, timeout=180, env=ROLE_TEST_ENV)


def test_checked_files_are_skipped_in_one_step_later_in_the_run(run_play: Callable[..., Run],
                                                                 tmp_path: Path) -> None:
    run = run_checks(run_play, tmp_path, b"k3s binary\n")
    assert run.returncode == 0, run.stdout + run.stderr
    first, second = run.stdout.split("TASK [Second check]", 1)
    assert "Look up (and hash where a sum is given) each air-gap file once on the controller" in first
    steps = [line for line in second.splitlines() if line.startswith("TASK [")]
    assert len(steps) == 1, steps  # the include, skipped: no architecture read, no lookup


def test_a_binary_that_does_not_match_its_sums_line_is_refused(run_play: Callable[..., Run],
                                                               tmp_path: Path) -> None:
    run = run_checks(run_play, tmp_path, b"another release\n")
    assert run.returncode != 0
    assert "k3s_binary_src" in run.stdout, run.stdout
    assert "TASK [Second check]" not in run.stdout  # the host failed at the first check
