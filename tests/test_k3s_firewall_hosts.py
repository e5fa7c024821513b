"""The k3s role's firewall step (roles/k3s/tasks/firewall.yml) against the real ufw and firewalld,
installed from Debian's mirror into a throw-away systemd container that has NET_ADMIN in its own
network namespace: an inactive firewall is left alone, `refuse` fails listing the missing rules and
changes nothing, check mode changes nothing, `open` adds exactly k3s's rules from the cluster's
node addresses, a second run changes nothing, and the firewall stays active with its other rules."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import ROLE_TEST_ENV, recap

# The cluster: the container is the first server; one more server and one agent are inventory
# entries only (never contacted: the play runs on the container alone), so their addresses are
# plain firewall sources.
INVENTORY = """
all:
  children:
    openshell_role_server:
      hosts:
        {host}:
          ansible_connection: ssh
          ansible_host: 127.0.0.1
          ansible_port: {port}
          ansible_user: root
          ansible_ssh_private_key_file: {key}
          ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
          ansible_python_interpreter: /usr/bin/python3
        fw-server-2: {{ansible_host: 10.99.0.12}}
    openshell_role_agent:
      hosts:
        fw-agent-1: {{ansible_host: 10.99.0.21}}
"""
PLAY = """
- name: The k3s role's firewall step
  hosts: {host}
  gather_facts: true
  tasks:
    - name: Run tasks/firewall.yml
      ansible.builtin.include_role:
        name: k3s
        tasks_from: firewall.yml
"""


def sh(host: str, command: str, timeout: int = 300) -> str:
    done = subprocess.run(["podman", "exec", host, "bash", "-c", command], capture_output=True, text=True,
                          check=False, timeout=timeout)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done.stdout


def install(host: str, package: str) -> None:
    sh(host, f"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package} >/dev/null",
       timeout=600)


def ssh_port(host: str) -> int:
    """The loopback port the fixture published the container's sshd on."""
    done = subprocess.run(["podman", "port", host, "22"], capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout.split()[0].rsplit(":", 1)[1])


def container_ip(host: str) -> str:
    return sh(host, "ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'").strip()


def play(run_play: Callable[..., subprocess.CompletedProcess[str]], host: str, mode: str,
         *args: str, inventory: str = INVENTORY, **extra: object) -> subprocess.CompletedProcess[str]:
    key = Path.home() / ".cache" / "openshell-test-hosts" / "id_ed25519"  # scripts/test-hosts authorizes it
    return run_play(inventory.format(host=host, port=ssh_port(host), key=key), PLAY.format(host=host), *args,
                    extra_vars={"k3s_firewall": mode, "k3s_cluster_init": True, **extra}, env=ROLE_TEST_ENV)


def k3s_steps(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The k3s role's task headers the play printed (an announced step costs a round of the play)."""
    return [line for line in result.stdout.splitlines() if line.startswith("TASK [k3s : ")]


def test_ufw_gets_k3s_rules_from_node_addresses_only(
        firewall_host: str, run_play: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    host = firewall_host
    install(host, "ufw")
    me = container_ip(host)
    assert me, "the container has no IPv4 address"

    # Installed but inactive: left alone, nothing added, not enabled.
    result = play(run_play, host, "open")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result, host)["changed"] == 0
    assert "Status: inactive" in sh(host, "ufw status")
    assert "ufw allow" not in sh(host, "ufw show added")
    # An inactive firewall costs one probe and one skipped include, not a skipped task per rule step.
    assert len(k3s_steps(result)) == 2, k3s_steps(result)

    # The play connects over ssh: the operator lets ssh in before enabling ufw, as on a real host.
    sh(host, "ufw allow 22/tcp && ufw --force enable")
    before = sh(host, "ufw show added")

    result = play(run_play, host, "refuse")
    assert result.returncode != 0
    for line in (f"ufw allow from 10.99.0.21 to any port 6443 proto tcp",
                 f"ufw allow from {me} to any port 8472 proto udp",
                 "ufw allow from 10.99.0.12 to any port 2379:2380 proto tcp",
                 "ufw allow from 10.42.0.0/16"):
        assert line in result.stdout, result.stdout
    assert "nothing was changed" in result.stdout
    assert sh(host, "ufw show added") == before

    result = play(run_play, host, "open", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sh(host, "ufw show added") == before

    result = play(run_play, host, "open")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result, host)["changed"] > 0
    status = sh(host, "ufw status numbered")
    assert "Status: active" in status
    rows = [" ".join(line.split("]", 1)[-1].split()) for line in status.splitlines() if line.startswith("[")]
    for source in (me, "10.99.0.12", "10.99.0.21"):
        assert f"6443/tcp ALLOW IN {source} # openshell-auto k3s" in rows, status
        assert f"10250/tcp ALLOW IN {source} # openshell-auto k3s" in rows, status
        assert f"8472/udp ALLOW IN {source} # openshell-auto k3s" in rows, status
    # etcd's peer and client ports only from servers.
    assert f"2379:2380/tcp ALLOW IN {me} # openshell-auto k3s" in rows, status
    assert "2379:2380/tcp ALLOW IN 10.99.0.12 # openshell-auto k3s" in rows, status
    assert not any("2379:2380" in row and "10.99.0.21" in row for row in rows), status
    assert "Anywhere ALLOW IN 10.42.0.0/16 # openshell-auto k3s" in rows, status
    assert "Anywhere ALLOW IN 10.43.0.0/16 # openshell-auto k3s" in rows, status
    # Nothing opened to the world; the operator's rule is still there.
    assert not any(row.endswith("ALLOW IN Anywhere") and "22/tcp" not in row for row in rows), status
    assert "22/tcp ALLOW IN Anywhere" in rows, status

    again = play(run_play, host, "open")
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again, host)["changed"] == 0
    assert play(run_play, host, "refuse").returncode == 0
    assert "Status: active" in sh(host, "ufw status")


def firewalld_rules(host: str, permanent: bool) -> set[str]:
    flag = "--permanent " if permanent else ""
    return {line.strip() for line in sh(host, f"firewall-cmd {flag}--list-rich-rules").splitlines() if line.strip()}


def test_firewalld_gets_k3s_rich_rules_runtime_and_permanent(
        firewall_host: str, run_play: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    host = firewall_host
    install(host, "firewalld")
    me = container_ip(host)
    sh(host, "systemctl stop firewalld")

    # Not running: left alone (and not started).
    result = play(run_play, host, "open")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result, host)["changed"] == 0
    assert sh(host, "systemctl is-active firewalld || true").strip() == "inactive"
    assert len(k3s_steps(result)) == 2, k3s_steps(result)

    sh(host, "systemctl start firewalld && firewall-cmd --state")
    result = play(run_play, host, "refuse")
    assert result.returncode != 0
    assert ("firewall-cmd --permanent --zone public --add-rich-rule rule family=\"ipv4\" "
            "source address=\"10.99.0.21\" port port=\"6443\" protocol=\"tcp\" accept") in result.stdout.replace(
                '\\"', '"'), result.stdout
    assert firewalld_rules(host, False) == set() and firewalld_rules(host, True) == set()

    result = play(run_play, host, "open")
    assert result.returncode == 0, result.stdout + result.stderr
    for permanent in (False, True):
        rules = firewalld_rules(host, permanent)
        for source in (me, "10.99.0.12", "10.99.0.21"):
            for port, proto in (("6443", "tcp"), ("10250", "tcp"), ("8472", "udp")):
                assert (f'rule family="ipv4" source address="{source}" port port="{port}" protocol="{proto}" accept'
                        in rules), rules
        assert f'rule family="ipv4" source address="{me}" port port="2379-2380" protocol="tcp" accept' in rules
        assert not any("10.99.0.21" in rule and "2379" in rule for rule in rules), rules
        assert 'rule family="ipv4" source address="10.42.0.0/16" accept' in rules
    assert "ssh" in sh(host, "firewall-cmd --list-services")

    again = play(run_play, host, "open")
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again, host)["changed"] == 0
    assert sh(host, "firewall-cmd --state").strip() == "running"


@pytest.mark.parametrize("firewall_host", ["13"], indirect=True)
def test_ufw_on_debian_13(firewall_host: str, run_play: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    host = firewall_host
    install(host, "ufw")
    sh(host, "ufw allow 22/tcp && ufw --force enable")  # ssh in, as on a real host
    # An agent known only by a DNS name (no facts: never contacted) cannot be a rule's source.
    by_name = INVENTORY.replace("{{ansible_host: 10.99.0.21}}", "{{ansible_host: gpu-agent.example}}")
    result = play(run_play, host, "open", inventory=by_name)
    assert result.returncode != 0
    assert "fw-agent-1 has no IP address" in result.stdout and "k3s_firewall_sources" in result.stdout
    assert "6443/tcp" not in sh(host, "ufw status")
    # Its network in k3s_firewall_sources covers it.
    result = play(run_play, host, "open", inventory=by_name, k3s_firewall_sources=["10.99.1.0/24"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10.99.1.0/24" in sh(host, "ufw status")
    sh(host, "ufw --force reset >/dev/null && ufw allow 22/tcp && ufw --force enable")
    result = play(run_play, host, "open")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6443/tcp" in sh(host, "ufw status")
    again = play(run_play, host, "open")
    assert recap(again, host)["changed"] == 0, again.stdout
    assert "Status: active" in sh(host, "ufw status")
