"""Which inbound firewall rules a k3s node needs, and which of them an active ufw or firewalld lacks.
One rule set, used by the k3s role (filters in plugins/filter/k3s_firewall.py, tasks/firewall.yml)
and by the CLI's inventory check (the settings' problems, exit 2 before anything runs).

The ports are k3s's own list, docs.k3s.io "Requirements" -> "Inbound Rules for K3s Nodes"
(k3s-io/docs, docs/installation/requirements.md):
  TCP 2379-2380  servers -> servers     only for HA with embedded etcd
  TCP 6443       agents  -> servers     K3s supervisor and Kubernetes API Server
  UDP 8472       all     -> all         only for Flannel VXLAN (k3s's default backend)
  TCP 10250      all     -> all         kubelet metrics and API
  UDP 51820      all     -> all         only for Flannel WireGuard with IPv4
  UDP 51821      all     -> all         only for Flannel WireGuard with IPv6
  TCP 5001, 6443 all     -> all         only for the embedded distributed registry (Spegel)
The same page ("Operating Systems", the ufw and firewalld tabs) says an active ufw or firewalld also
needs traffic from the pod and service CIDRs (10.42.0.0/16, 10.43.0.0/16 by default) allowed.
"6443 accessible by all nodes" (same page, Networking): servers joining servers use it too, so
6443 is opened to every node. Every rule is limited to the cluster's node addresses (or the pod
and service CIDRs); nothing is opened to the world (the page warns that 8472 must not be).

Rule text is compared in each tool's own listing format: `ufw show added` prints
`ufw allow from SRC to any port PORT proto PROTO [comment '...']` and `ufw allow from SRC`
(ufw 0.36.2, Debian 12; the Debian 13 test passes on the same format); `firewall-cmd --list-rich-rules` prints
`rule family="ipv4" source address="SRC" port port="PORT" protocol="PROTO" accept` (firewalld
1.3.3, Debian 12; firewalld was not run on Debian 13). Both were read from the real tools in tests/test_k3s_firewall_hosts.py.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import shown

MODES = ("open", "refuse", "ignore")
# Flannel backends k3s accepts (k3s server --help, --flannel-backend) and the UDP ports each needs.
_FLANNEL_PORTS: dict[str, tuple[tuple[str, str], ...]] = {
    "vxlan": (("8472", "Flannel VXLAN"),),
    "wireguard-native": (("51820", "Flannel WireGuard (IPv4)"), ("51821", "Flannel WireGuard (IPv6)")),
    "host-gw": (),
    "none": (),
}
_ZONE = re.compile(r"[A-Za-z0-9_+-]{1,17}")  # firewalld zone names: at most 17 characters
UFW_COMMENT = "openshell-auto k3s"


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _address(value: Any) -> str | None:
    """An IP address literal (no prefix) as the firewalls print it, else None."""
    if not isinstance(value, str) or "/" in value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def sources_problems(sources: Any) -> list[str]:
    """k3s_firewall_sources: a list of IP addresses or CIDRs."""
    if not isinstance(sources, list):
        return [f"`{shown(sources)}` is not a list; write a YAML list of addresses "
                "or CIDRs (e.g. [10.0.0.0/24])"]
    return [f"`{shown(entry)}` is not an IP address or CIDR; write e.g. 10.0.0.5 "
            "or 10.0.0.0/24" for entry in sources if _network(entry) is None]


def zone_problem(zone: Any) -> str | None:
    """k3s_firewalld_zone: empty (the default zone) or a firewalld zone name."""
    if isinstance(zone, str) and (zone == "" or _ZONE.fullmatch(zone)):
        return None
    return f"`{shown(zone)}` is not a firewalld zone name; leave it empty for the " \
           "default zone or write a zone name (letters, digits, _ + -, 17 characters at most)"


def settings_problems(mode: Any, sources: Any, zone: Any) -> list[str]:
    """k3s_firewall, k3s_firewall_sources and k3s_firewalld_zone as the inventory gives them."""
    problems = []
    if mode not in MODES:
        problems.append(f"field k3s_firewall: `{shown(mode)}` is not one of {', '.join(MODES)}; "
                        "open adds the missing rules, refuse fails listing them, ignore leaves the firewall alone")
    problems += [f"field k3s_firewall_sources: {problem}" for problem in sources_problems(sources)]
    if (problem := zone_problem(zone)) is not None:
        problems.append(f"field k3s_firewalld_zone: {problem}")
    return problems


def node_sources(names: Sequence[str], columns: Sequence[Sequence[Any]], extra: Sequence[str]) -> dict[str, Any]:
    """The cluster's nodes as firewall sources: {'by_name': {name: address}, 'extra': [...],
    'unresolved': [names]}. `columns` holds, per kind of address Ansible knows, one value per name
    (the gathered default IPv4 and IPv6 addresses, then ansible_host), best first; then the name itself:
    the first IP literal is the node's address. A node with none is unresolved unless
    k3s_firewall_sources (`extra`) is set, which then covers it (a host name is never written into a
    firewall rule: the firewalls would resolve it once, or refuse it)."""
    by_name: dict[str, str] = {}
    unresolved: list[str] = []
    for index, name in enumerate(names):
        values = [column[index] for column in columns if index < len(column)] + [name]
        address = next((a for a in (_address(v) for v in values) if a is not None), None)
        if address is None:
            unresolved.append(str(name))
        else:
            by_name[str(name)] = address
    networks = []
    for entry in extra:
        network = _network(entry)
        if network is not None:
            text = str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)
            networks.append(text)
    return {"by_name": by_name, "extra": sorted(set(networks)), "unresolved": [] if extra else sorted(unresolved)}


def rules(is_server: bool, cluster: Mapping[str, Any], embedded_etcd: bool, nodes: Mapping[str, Any],
          servers: Sequence[str]) -> list[dict[str, Any]]:
    """The inbound rules this node needs: one per (protocol, port, source), sorted.
    `cluster` is the cluster-wide k3s configuration (flannel-backend, cluster-cidr, service-cidr,
    embedded-registry, datastore-endpoint); `nodes` what node_sources returned; `servers` the
    servers' inventory names (the sources of the etcd ports)."""
    node_addresses = sorted(set(nodes["by_name"].values()) | set(nodes["extra"]))
    server_addresses = sorted({nodes["by_name"][name] for name in servers if name in nodes["by_name"]}
                              | set(nodes["extra"]))
    backend = str(cluster.get("flannel-backend") or "vxlan").strip()
    wanted: list[tuple[str, str, Sequence[str], str]] = [("tcp", "10250", node_addresses, "kubelet")]
    cidrs = [("cluster-cidr", "10.42.0.0/16", "pods"), ("service-cidr", "10.43.0.0/16", "services")]
    networks = [(network, why) for key, default, why in cidrs
                for network in (_network(cidr.strip()) for cidr in str(cluster.get(key) or default).split(","))
                if network is not None]
    ipv6 = any(network.version == 6 for network, _ in networks)
    for port, why in _FLANNEL_PORTS.get(backend, _FLANNEL_PORTS["vxlan"]):
        if port != "51821" or ipv6:
            wanted.append(("udp", port, node_addresses, why))
    if boolean(cluster.get("embedded-registry") or False, strict=False):  # as Ansible reads a YAML bool
        wanted.append(("tcp", "5001", node_addresses, "embedded registry (Spegel)"))
        if not is_server:
            wanted.append(("tcp", "6443", node_addresses, "embedded registry (Spegel)"))
    if is_server:
        wanted.append(("tcp", "6443", node_addresses, "K3s supervisor and Kubernetes API"))
        if embedded_etcd and not cluster.get("datastore-endpoint"):
            wanted.append(("tcp", "2379-2380", server_addresses, "embedded etcd"))
    for network, why in networks:
        wanted.append(("", "", [str(network)], why))
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for proto, port, sources, why in wanted:
        for source in sources:
            out.setdefault((proto, port, source), _rule(proto, port, source, why))
    return [out[key] for key in sorted(out, key=lambda k: (k[1] == "", int(k[1].split("-")[0] or 0), k[0], k[2]))]


def _rule(proto: str, port: str, source: str, why: str) -> dict[str, Any]:
    family = "ipv6" if ":" in source else "ipv4"
    if port:
        ufw = f"ufw allow from {source} to any port {port.replace('-', ':')} proto {proto}"
        ufw_argv = ["allow", "proto", proto, "from", source, "to", "any", "port", port.replace("-", ":")]
        rich = f'rule family="{family}" source address="{source}" port port="{port}" protocol="{proto}" accept'
        label = f"{port}/{proto} from {source} ({why})"
    else:
        ufw = f"ufw allow from {source}"
        ufw_argv = ["allow", "from", source, "to", "any"]
        rich = f'rule family="{family}" source address="{source}" accept'
        label = f"all ports from {source} ({why})"
    return {"proto": proto, "port": port, "source": source, "why": why, "label": label,
            "ufw": ufw, "ufw_argv": [*ufw_argv, "comment", UFW_COMMENT], "rich_rule": rich}


def ufw_missing(wanted: Iterable[Mapping[str, Any]], show_added: str) -> list[Mapping[str, Any]]:
    """The rules `ufw show added` does not list (a rule's comment does not matter)."""
    present = {re.sub(r" comment '.*'$", "", line.strip()) for line in show_added.splitlines()}
    return [rule for rule in wanted if rule["ufw"] not in present]


def firewalld_missing(wanted: Iterable[Mapping[str, Any]], rich_rules: str) -> list[Mapping[str, Any]]:
    """The rules `firewall-cmd [--permanent] --zone Z --list-rich-rules` does not list."""
    present = {line.strip() for line in rich_rules.splitlines()}
    return [rule for rule in wanted if rule["rich_rule"] not in present]
