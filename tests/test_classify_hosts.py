"""playbooks/classify.yml (first play of every playbook) refuses, before any connection, an
ansible_host that is no address (e.g. an ssh option) and a node name k3s would refuse: what the
CLI checks, for those who run ansible-playbook themselves. ssh is /bin/false and the host
127.0.0.1 on a closed port: nothing is contacted either way."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import REPO

Run = subprocess.CompletedProcess[str]


NO_SSH = {"ANSIBLE_SSH_EXECUTABLE": "/bin/false"}
CLASSIFY = REPO / "playbooks" / "classify.yml"


def inventory(host: str, host_vars: str) -> str:
    return ("all:\n  vars:\n    ansible_connection: ssh\n    ansible_port: 9\n  children:\n"
            f"    openshell_servers:\n      hosts:\n        {host}:\n          {host_vars}\n")


@pytest.mark.parametrize("host,host_vars,field", [
    ("s1", 'ansible_host: "-oProxyCommand=touch OWNED"', "field ansible_host"),
    ("s1", 'ansible_host: "127.0.0.1 -p 22"', "field ansible_host"),
    ("Server1", "ansible_host: 127.0.0.1", "field k3s_node_name"),
    ("s1", "ansible_host: 127.0.0.1\n          k3s_node_name: bad_name", "field k3s_node_name"),
])
def test_classify_refuses_before_connecting(run_play: Callable[..., Run], tmp_path: Path, host: str,
                                            host_vars: str, field: str) -> None:
    result = run_play(inventory(host, host_vars), CLASSIFY, env=NO_SSH)
    assert result.returncode == 2, result.stdout + result.stderr
    assert field in result.stdout
    assert not (tmp_path / "OWNED").exists()


def test_classify_accepts_a_plain_host(run_play: Callable[..., Run]) -> None:
    result = run_play(inventory("server-1", "ansible_host: 127.0.0.1"), CLASSIFY, env=NO_SSH)
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

    - name: The device-plugin settings again (role openshell runs once per play)
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


def test_hosts_are_classified_once_per_run(run_play: Callable[..., Run]) -> None:
    """The classification runs in classify.yml only: later plays whose roles depend on role
    openshell (for its shared defaults) skip it in one step instead of classifying again."""
    result = run_play(inventory("s1", "ansible_host: 127.0.0.1"), CLASSIFY_THEN_TWO_PLAYS.format(classify=CLASSIFY),
                      env=NO_SSH)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("TASK [openshell : Put the host into its dynamic groups]") == 1, out
    assert out.count("TASK [openshell : Work out this host's cluster roles]") == 1, out
    assert out.count("Classify this host (once per run)]") == 2, out
    # role openshell's settings: checked once, in classify.yml, not again by each play's dependency
    assert out.count("Validating arguments against arg spec 'classify'") == 1, out


STANDALONE_ROLE = """
- name: A role in a play of its own (no classify.yml before it)
  hosts: all
  gather_facts: false
  tasks:
    - name: The device-plugin settings
      ansible.builtin.include_role:
        name: nvidia_device_plugin
        tasks_from: checks.yml
"""


def test_a_role_used_on_its_own_checks_the_shared_settings_when_it_classifies(run_play: Callable[..., Run]) -> None:
    """Without classify.yml, the dependency classifies the host and checks role openshell's settings
    (entry point classify) before anything else runs."""
    result = run_play(inventory("s1", "ansible_host: 127.0.0.1\n          openshell_gpu: maybe"), STANDALONE_ROLE,
                      env=NO_SSH)
    assert result.returncode != 0, result.stdout
    assert "Validating arguments against arg spec 'classify'" in result.stdout, result.stdout
    assert "openshell_gpu" in result.stdout, result.stdout
    assert "Work out this host's cluster roles" not in result.stdout, result.stdout


RECORD_GROUPS = """
- name: Classify
  ansible.builtin.import_playbook: {classify}

- name: Record the dynamic groups
  hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Write them
      ansible.builtin.copy:
        content: >-
          {{{{ dict(['server', 'agent', 'gpu', 'first_server']
                    | zip(['server', 'agent', 'gpu', 'first_server']
                          | map('regex_replace', '^', 'openshell_role_')
                          | map('extract', groups) | list)) | to_json }}}}
        dest: {out}
        mode: "0600"
"""


@pytest.mark.parametrize("all_vars,first", [
    ("", "s1"),
    ("    openshell_first_server: s2\n", "s2"),
])
def test_cli_classifies_as_the_role_does(run_play: Callable[..., Run], tmp_path: Path, all_vars: str,
                                        first: str) -> None:
    """inventory.classify (the CLI, render) and role openshell put the same hosts into the same
    groups, openshell_role_first_server included (an inventory's openshell_first_server counts)."""
    from openshell_auto.inventory import load_inventory

    hosts = tmp_path / "hosts.yml"
    hosts.write_text("all:\n  vars:\n    ansible_connection: ssh\n    ansible_port: 9\n" + all_vars
                     + "  children:\n    openshell_servers:\n      hosts:\n"
                     "        s1: {ansible_host: 127.0.0.1}\n        s2: {ansible_host: 127.0.0.1}\n"
                     "    openshell_agents:\n      hosts:\n        a1: {ansible_host: 127.0.0.1, openshell_gpu: true}\n"
                     "        a2: {ansible_host: 127.0.0.1}\n"
                     "    openshell_gpu_hosts:\n      hosts:\n        s2:\n")
    out = tmp_path / "groups.json"
    result = run_play(hosts, RECORD_GROUPS.format(classify=CLASSIFY, out=out), env=NO_SSH)
    assert result.returncode == 0, result.stdout + result.stderr
    role = json.loads(out.read_text())
    cli = load_inventory(hosts)
    assert role["first_server"] == [first] and cli.first_server == first
    assert sorted(role["server"]) == sorted(cli.servers) and sorted(role["agent"]) == sorted(cli.agents)
    assert sorted(role["gpu"]) == sorted(cli.gpu_hosts) == ["a1", "s2"]


def test_under_a_limit_the_hosts_outside_it_are_classified_from_the_inventory(
        run_play: Callable[..., Run], tmp_path: Path) -> None:
    """`-l a1`: the servers outside the limit still go into their groups (the first server too),
    through one include that a run without a limit skips in one step."""
    hosts = tmp_path / "hosts.yml"
    hosts.write_text("all:\n  vars:\n    ansible_connection: ssh\n    ansible_port: 9\n"
                     "  children:\n    openshell_servers:\n      hosts:\n"
                     "        s1: {ansible_host: 127.0.0.1}\n        s2: {ansible_host: 127.0.0.1}\n"
                     "    openshell_agents:\n      hosts:\n        a1: {ansible_host: 127.0.0.1, openshell_gpu: true}\n")
    out = tmp_path / "groups.json"
    result = run_play(hosts, RECORD_GROUPS.format(classify=CLASSIFY, out=out), "-l", "a1,localhost", env=NO_SSH)
    assert result.returncode == 0, result.stdout + result.stderr
    role = json.loads(out.read_text())
    assert role["first_server"] == ["s1"] and sorted(role["server"]) == ["s1", "s2"], role
    assert role["agent"] == ["a1"] and role["gpu"] == ["a1"], role
    assert "TASK [openshell : Put the hosts outside the limit into their dynamic groups]" in result.stdout
    result = run_play(hosts, RECORD_GROUPS.format(classify=CLASSIFY, out=out), env=NO_SSH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Put the hosts outside the limit" not in result.stdout
    assert re.search(r"TASK \[openshell : Classify the hosts outside the limit\] \**\n(skipping: .*\n)+\n",
                     result.stdout), result.stdout
