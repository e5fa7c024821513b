"""roles/k3s/tasks/kubeconfig.yml on the controller: a missing kubeconfig directory is created
0700; an existing one (a shared /tmp, ~/.kube) keeps its mode; the kubeconfig itself is 0600.
Runs the task file on localhost with a kubeconfig file standing in for k3s's own k3s.yaml."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from conftest import ANSIBLE_PLAYBOOK, ROLE_TEST_ENV, ansible_env

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


def fetch(tmp_path: Path, local_path: Path) -> subprocess.CompletedProcess[str]:
    config_dir = tmp_path / "etc-k3s"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "k3s.yaml").write_text(KUBECONFIG)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.yml").write_text("all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost:\n"
                                        "          ansible_connection: local\n"
                                        f"          ansible_python_interpreter: {sys.executable}\n")
    (tmp_path / "vars.json").write_text(json.dumps({
        "k3s_config_dir": str(config_dir), "k3s_kubeconfig_local_path": str(local_path),
        "__k3s_server_url": "https://192.0.2.10:6443"}))
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), "-e", f"@{tmp_path / 'vars.json'}",
                           str(tmp_path / "play.yml")], capture_output=True, text=True,
                          env=ansible_env(**ROLE_TEST_ENV), timeout=300, check=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # what /tmp is
    result = fetch(tmp_path, shared / "openshell.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(shared) == 0o1777
    assert mode(shared / "openshell.yaml") == 0o600
    assert "server: https://192.0.2.10:6443" in (shared / "openshell.yaml").read_text()


def test_missing_directory_is_created_private(tmp_path: Path) -> None:
    result = fetch(tmp_path, tmp_path / "new" / "kube" / "openshell.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(tmp_path / "new" / "kube") == 0o700
    assert mode(tmp_path / "new" / "kube" / "openshell.yaml") == 0o600
