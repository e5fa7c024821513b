"""Every Molecule test host is reached over ssh on a loopback port of its own.

The podman driver writes `ansible_connection: podman` for each host in the inventory file; only a
host_vars entry overrides it. A platform that publishes no port, or whose host_vars name another
port or no ssh connection, would silently fall back to `podman exec` (or reach another scenario's
host), so each scenario is checked here before a long Molecule run finds it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PUBLISHED = re.compile(r"^127\.0\.0\.1:(\d+):22$")


def scenarios() -> dict[str, dict]:
    return {path.parent.name: yaml.safe_load(path.read_text())
            for path in sorted((REPO / "molecule").glob("*/molecule.yml"))}


def test_each_platform_publishes_sshd_on_its_own_loopback_port() -> None:
    seen: dict[int, str] = {}
    found = scenarios()
    assert {"default", "ha", "multinode", "toolkit"} <= set(found)
    for name, config in found.items():
        host_vars = config["provisioner"]["inventory"]["host_vars"]
        for platform in config["platforms"]:
            host = platform["name"]
            published = platform.get("published_ports") or []
            assert len(published) == 1, f"{name}/{host}: publishes {published}, expected one 127.0.0.1:PORT:22"
            match = PUBLISHED.match(published[0])
            assert match, f"{name}/{host}: {published[0]} is not 127.0.0.1:PORT:22 (loopback only)"
            port = int(match.group(1))
            assert port not in seen, f"{name}/{host}: port {port} is also {seen[port]}'s"
            seen[port] = f"{name}/{host}"
            assert host_vars[host]["ansible_connection"] == "ssh", f"{name}/{host}: not reached over ssh"
            assert host_vars[host]["ansible_port"] == port, f"{name}/{host}: ansible_port is not {port}"

