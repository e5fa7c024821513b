"""roles/k3s/tasks/kubeconfig.yml on the controller: a missing kubeconfig directory is created
0700; an existing one (a shared /tmp, ~/.kube) keeps its mode; the kubeconfig itself is 0600.
Runs the task file on localhost with a kubeconfig file standing in for k3s's own k3s.yaml."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from helpers import ROLE_TEST_ENV

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Fetch the kubeconfig
      ansible.builtin.include_role:
        name: k3s
        tasks_from: kubeconfig.yml
"""
KUBECONFIG = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n"


def fetch(run_play: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path,
          local_path: Path) -> subprocess.CompletedProcess[str]:
    config_dir = tmp_path / "etc-k3s"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "k3s.yaml").write_text(KUBECONFIG)
    inventory = ("all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost:\n"
                 "          ansible_connection: local\n"
                 f"          ansible_python_interpreter: {sys.executable}\n")
    return run_play(inventory, PLAYBOOK, env=ROLE_TEST_ENV, timeout=300, extra_vars={
        "k3s_config_dir": str(config_dir), "k3s_kubeconfig_local_path": str(local_path),
        "__k3s_server_url": "https://192.0.2.10:6443"})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_existing_directory_keeps_its_mode(run_play: Callable[..., subprocess.CompletedProcess[str]],
                                           tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # what /tmp is
    result = fetch(run_play, tmp_path, shared / "openshell.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(shared) == 0o1777
    assert mode(shared / "openshell.yaml") == 0o600
    assert "server: https://192.0.2.10:6443" in (shared / "openshell.yaml").read_text()


def test_missing_directory_is_created_private(run_play: Callable[..., subprocess.CompletedProcess[str]],
                                             tmp_path: Path) -> None:
    result = fetch(run_play, tmp_path, tmp_path / "new" / "kube" / "openshell.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(tmp_path / "new" / "kube") == 0o700
    assert mode(tmp_path / "new" / "kube" / "openshell.yaml") == 0o600
