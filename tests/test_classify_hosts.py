"""playbooks/classify.yml (first play of every playbook) refuses, before any connection, an
ansible_host that is no address (e.g. an ssh option) and a node name k3s would refuse: what the
CLI checks, for those who run ansible-playbook themselves. ssh is /bin/false and the host
127.0.0.1 on a closed port: nothing is contacted either way."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ANSIBLE_PLAYBOOK, REPO, ansible_env


def classify(tmp_path: Path, host: str, host_vars: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  vars:\n    ansible_connection: ssh\n    ansible_port: 9\n  children:\n"
                         f"    openshell_servers:\n      hosts:\n        {host}:\n          {host_vars}\n")
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(REPO / "playbooks" / "classify.yml")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
                          env=ansible_env(ANSIBLE_SSH_EXECUTABLE="/bin/false"))


@pytest.mark.parametrize("host,host_vars,field", [
    ("s1", 'ansible_host: "-oProxyCommand=touch OWNED"', "field ansible_host"),
    ("s1", 'ansible_host: "127.0.0.1 -p 22"', "field ansible_host"),
    ("Server1", "ansible_host: 127.0.0.1", "field k3s_node_name"),
    ("s1", "ansible_host: 127.0.0.1\n          k3s_node_name: bad_name", "field k3s_node_name"),
])
def test_classify_refuses_before_connecting(tmp_path: Path, host: str, host_vars: str, field: str) -> None:
    result = classify(tmp_path, host, host_vars)
    assert result.returncode == 2, result.stdout + result.stderr
    assert field in result.stdout
    assert not (tmp_path / "OWNED").exists()


def test_classify_accepts_a_plain_host(tmp_path: Path) -> None:
    result = classify(tmp_path, "server-1", "ansible_host: 127.0.0.1")
    assert result.returncode == 0, result.stdout + result.stderr


CLASSIFY_THEN_TWO_PLAYS = """
- name: Classify
  ansible.builtin.import_playbook: {classify}

- name: A play with a role that depends on role openshell
  hosts: openshell_role_server
  gather_facts: false
  tasks:
    - name: The device-plugin settings
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: checks.yml

- name: Another such play
  hosts: openshell_role_server
  gather_facts: false
  roles:
    - role: nvidia_device_plugin
      nvidia_device_plugin_enabled: false
      when: false
"""


def test_hosts_are_classified_once_per_run(tmp_path: Path) -> None:
    """The classification runs in classify.yml only: later plays whose roles depend on role
    openshell (for its shared defaults) skip it in one step instead of classifying again."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  vars:\n    ansible_connection: ssh\n    ansible_port: 9\n  children:\n"
                         "    openshell_servers:\n      hosts:\n        s1:\n          ansible_host: 127.0.0.1\n")
    playbook = tmp_path / "play.yml"
    playbook.write_text(CLASSIFY_THEN_TWO_PLAYS.format(classify=REPO / "playbooks" / "classify.yml"))
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook)], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300, check=False,
                            env=ansible_env(ANSIBLE_SSH_EXECUTABLE="/bin/false"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("TASK [openshell : Put the host into its dynamic groups]") == 1, out
    assert out.count("TASK [openshell : Work out this host's cluster roles]") == 1, out
    assert out.count("TASK [openshell : Classify this host (once per run)]") == 2, out
