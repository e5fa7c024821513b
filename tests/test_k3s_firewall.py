"""The firewall rules a k3s node needs (plugins/module_utils/k3s_firewall.py), the rule the k3s role
(tasks/firewall.yml, through plugins/filter/k3s_firewall.py) and the CLI's inventory check share:
ports per role and flannel backend as docs.k3s.io "Inbound Rules for K3s Nodes" lists them, sources
limited to the nodes, each tool's listing compared, and hostile settings refused before anything runs.
The real ufw and firewalld: tests/test_k3s_firewall_hosts.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import subprocess

import pytest

from ansible_collections.openshell_auto.cluster.plugins.module_utils import k3s_firewall
from helpers import K3S_SETTINGS_INVENTORY, K3S_SETTINGS_PLAY, ROLE_TEST_ENV, inventory_line_problems

NODES = k3s_firewall.node_sources(["s1", "s2", "a1"], [["10.0.0.1", "s2.example", "10.0.0.21"],
                                                       ["", "10.0.0.2", ""]], [])
SERVERS = ["s1", "s2"]


def ports(rules: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in rules:
        out.setdefault(f"{rule['port']}/{rule['proto']}" if rule["port"] else "all", set()).add(rule["source"])
    return out


def test_node_addresses_take_the_first_ip_literal_and_name_the_nodes_without_one() -> None:
    # s2's ansible_host is a DNS name: its gathered default IPv4 address is used instead.
    assert NODES["by_name"] == {"s1": "10.0.0.1", "s2": "10.0.0.2", "a1": "10.0.0.21"}
    nodes = k3s_firewall.node_sources(["s1", "gpu-7"], [["10.0.0.1", "gpu-7.example"], ["", ""]], [])
    assert nodes["unresolved"] == ["gpu-7"]
    covered = k3s_firewall.node_sources(["s1", "gpu-7"], [["10.0.0.1", "gpu-7.example"]], ["10.0.0.0/24"])
    assert covered["unresolved"] == [] and covered["extra"] == ["10.0.0.0/24"]
    assert k3s_firewall.node_sources(["fd00::5"], [[""]], [])["by_name"] == {"fd00::5": "fd00::5"}


def test_a_server_with_embedded_etcd_gets_k3s_inbound_table() -> None:
    got = ports(k3s_firewall.rules(True, {}, True, NODES, SERVERS))
    every = {"10.0.0.1", "10.0.0.2", "10.0.0.21"}
    assert got == {"6443/tcp": every, "10250/tcp": every, "8472/udp": every,
                   "2379-2380/tcp": {"10.0.0.1", "10.0.0.2"},  # between servers only
                   "all": {"10.42.0.0/16", "10.43.0.0/16"}}


def test_an_agent_opens_no_api_or_etcd_port() -> None:
    got = ports(k3s_firewall.rules(False, {}, True, NODES, SERVERS))
    assert set(got) == {"10250/tcp", "8472/udp", "all"}


def test_etcd_ports_only_with_embedded_etcd_and_no_external_datastore() -> None:
    assert "2379-2380/tcp" not in ports(k3s_firewall.rules(True, {}, False, NODES, SERVERS))
    external = {"datastore-endpoint": "postgres://db:5432/k3s"}
    assert "2379-2380/tcp" not in ports(k3s_firewall.rules(True, external, True, NODES, SERVERS))


@pytest.mark.parametrize("cluster,udp", [
    ({"flannel-backend": "vxlan"}, {"8472/udp"}),
    ({"flannel-backend": "wireguard-native"}, {"51820/udp"}),
    ({"flannel-backend": "wireguard-native", "cluster-cidr": "10.42.0.0/16,2001:cafe:42::/56"},
     {"51820/udp", "51821/udp"}),
    ({"flannel-backend": "host-gw"}, set()),
    ({"flannel-backend": "none"}, set()),
])
def test_flannel_ports_follow_the_backend(cluster: dict[str, str], udp: set[str]) -> None:
    got = ports(k3s_firewall.rules(False, cluster, False, NODES, SERVERS))
    assert {key for key in got if key.endswith("/udp")} == udp


def test_custom_cidrs_and_the_embedded_registry() -> None:
    cluster = {"cluster-cidr": "10.52.0.0/16", "service-cidr": "10.53.0.0/16", "embedded-registry": True}
    got = ports(k3s_firewall.rules(False, cluster, False, NODES, SERVERS))
    assert got["all"] == {"10.52.0.0/16", "10.53.0.0/16"}
    assert "5001/tcp" in got and "6443/tcp" in got  # Spegel: 5001 and 6443 between all nodes


def test_extra_sources_are_allowed_as_given() -> None:
    nodes = k3s_firewall.node_sources(["s1"], [["s1.example"]], ["10.1.0.0/24", "10.2.0.9/32"])
    got = ports(k3s_firewall.rules(True, {}, True, nodes, ["s1"]))
    assert got["6443/tcp"] == {"10.1.0.0/24", "10.2.0.9"}


def test_missing_rules_compare_each_tools_listing() -> None:
    rules = k3s_firewall.rules(False, {}, False, k3s_firewall.node_sources(["a1"], [["10.0.0.21"]], []), [])
    # `ufw show added` as ufw 0.36.2 prints it; a comment does not make a rule different.
    added = ("Added user rules (see 'ufw status' for running firewall):\n"
             "ufw allow from 10.0.0.21 to any port 10250 proto tcp comment 'someone else'\n"
             "ufw allow from 10.42.0.0/16\n")
    assert [r["ufw"] for r in k3s_firewall.ufw_missing(rules, added)] == [
        "ufw allow from 10.0.0.21 to any port 8472 proto udp", "ufw allow from 10.43.0.0/16"]
    listed = 'rule family="ipv4" source address="10.0.0.21" port port="8472" protocol="udp" accept\n'
    assert [r["port"] for r in k3s_firewall.firewalld_missing(rules, listed)] == ["10250", "", ""]
    assert k3s_firewall.ufw_missing(rules, "\n".join(r["ufw"] for r in rules)) == []


def test_ipv6_sources_get_ipv6_rich_rules() -> None:
    rules = k3s_firewall.rules(False, {}, False, k3s_firewall.node_sources(["a1"], [["fd00::21"]], []), [])
    assert 'rule family="ipv6" source address="fd00::21" port port="10250" protocol="tcp" accept' in [
        r["rich_rule"] for r in rules]


@pytest.mark.parametrize("mode,sources,zone,problem", [
    ("disable", [], "", "field k3s_firewall: `disable` is not one of open, refuse, ignore"),
    ("open", "10.0.0.0/8", "", "field k3s_firewall_sources: `10.0.0.0/8` is not a list"),
    ("open", ["0.0.0.0/0; rm -rf /"], "", "is not an IP address or CIDR"),
    ("open", ["gpu-1.example"], "", "is not an IP address or CIDR"),
    ("open", [], "public --reload", "field k3s_firewalld_zone: `public --reload` is not a firewalld zone"),
])
def test_settings_problems(mode: Any, sources: Any, zone: Any, problem: str) -> None:
    problems = k3s_firewall.settings_problems(mode, sources, zone)
    assert len(problems) == 1 and problem in problems[0], problems


def test_good_settings_have_no_problem() -> None:
    assert k3s_firewall.settings_problems("refuse", ["10.0.0.0/24", "fd00::/64", "10.0.0.5"], "internal") == []


@pytest.mark.parametrize("line,problem", [
    ("k3s_firewall: disable", "field k3s_firewall: value of k3s_firewall must be one of: open, refuse, ignore"),
    ("k3s_firewall_sources: ['10.0.0.0/24 ']", "field k3s_firewall_sources: `10.0.0.0/24 ` is not an IP"),
    ("k3s_firewall_sources: ['nodes.example']", "field k3s_firewall_sources: `nodes.example` is not an IP"),
    ("k3s_firewalld_zone: 'public;drop'", "field k3s_firewalld_zone: `public;drop` is not a firewalld zone"),
])
def test_the_cli_refuses_bad_firewall_settings(tmp_path: Path, line: str, problem: str) -> None:
    problems = inventory_line_problems(tmp_path / "hosts.yml", line)
    assert any(problem in message for message in problems), problems


@pytest.mark.parametrize("variables,problem", [
    ({"k3s_firewall": "disable"}, "field k3s_firewall: `disable` is not one of open, refuse, ignore"),
    ({"k3s_firewalld_zone": "public --reload"}, "field k3s_firewalld_zone: `public --reload`"),
])
def test_the_role_refuses_bad_firewall_settings_before_anything_changes(
        run_play: Callable[..., subprocess.CompletedProcess[str]], variables: dict[str, object], problem: str) -> None:
    result = run_play(K3S_SETTINGS_INVENTORY, K3S_SETTINGS_PLAY,
                      extra_vars={"openshell_first_server": "localhost", **variables}, env=ROLE_TEST_ENV)
    assert result.returncode == 2 and problem in result.stdout, result.stdout


@pytest.mark.parametrize(("value", "on"), [(True, True), ("yes", True), ("True", True), ("y", True), (1, True),
                                          (False, False), ("no", False), ("false", False), (None, False)])
def test_the_embedded_registry_setting_is_read_as_ansible_reads_a_bool(value: object, on: bool) -> None:
    got = ports(k3s_firewall.rules(False, {"embedded-registry": value}, False, NODES, SERVERS))
    assert ("5001/tcp" in got) is on
